"""Batched decoding on the HF engine (engine/hf/batch.py), on a tiny random Qwen2 built in memory:
every request batched gets what it gets alone (one token per forward, lookahead off)."""

import pytest
import torch
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from minimax_cli.engine.base import ROWS_ENV, EngineInfo, GenerationParams, Message, rows_from_env
from minimax_cli.engine.hf import HFEngine, batch
from minimax_cli.engine.hybrid.published import BOS_TOKEN, EOS_TOKEN
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.synthetic.tokenizer import build_tokenizer

TEMPLATE = (
    "{% for m in messages %}" + BOS_TOKEN + "{{ m.role }}\n{{ m.content }}" + EOS_TOKEN + "\n{% endfor %}"
    "{% if add_generation_prompt %}" + BOS_TOKEN + "assistant\n{% endif %}"
)
WORDS = "the canal opened after a letter from the harbour board about barges and tolls".split()


@pytest.fixture(scope="module")
def engine():
    torch.manual_seed(0)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=build_tokenizer(300), eos_token=EOS_TOKEN,
                                        chat_template=TEMPLATE)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, initializer_range=0.3, tie_word_embeddings=False)
    model = Qwen2ForCausalLM(config).eval()
    info = EngineInfo(name="tiny", engine="hf", dtype="float32", devices=["cpu"], context_window=400)
    # prefill_chunk 16: rows are prefilled in chunks, as long documents are
    return HFEngine(model, tokenizer, info, prefill_chunk=16, lookahead=False)


@pytest.fixture
def groups(engine, monkeypatch):
    """The sizes of the groups the batcher runs; a fresh batcher of 4 rows that waits long enough
    for a test's submits to arrive together."""
    sizes = []
    run_group = batch.run_group
    monkeypatch.setattr(batch, "run_group", lambda e, group: (sizes.append(len(group)), run_group(e, group)))
    monkeypatch.setattr(batch, "GATHER_SECONDS", 0.5)
    monkeypatch.setattr(engine, "max_rows", 4)
    monkeypatch.setattr(engine, "_batcher", None)
    yield sizes
    if engine._batcher is not None:
        engine._batcher.close()


def prompt(n: int, start: int = 0) -> list[Message]:
    return [Message("user", " ".join(WORDS[(start + i) % len(WORDS)] for i in range(n)))]


def same(a, b) -> bool:
    return (a.text, a.completion_tokens, a.finish_reason, a.prompt_tokens, a.reasoning) == \
        (b.text, b.completion_tokens, b.finish_reason, b.prompt_tokens, b.reasoning)


def run_both(engine, calls):
    """(alone, batched) Generations of `calls` [(messages, params)]; batched through submit."""
    alone = [engine.generate(m, p) for m, p in calls]
    futures = [engine.submit(m, p) for m, p in calls]
    return alone, [f.result(timeout=120) for f in futures]


def test_greedy_rows_batched_give_their_tokens_alone(engine, groups):
    # the longest prompt has the smallest budget: it leaves first and its padding is dropped
    lengths, budgets = [90, 5, 40, 17, 60, 3], [4, 30, 12, 25, 8, 19]
    calls = [(prompt(n, i), GenerationParams(max_new_tokens=b)) for i, (n, b) in enumerate(zip(lengths, budgets))]
    alone, batched = run_both(engine, calls)
    assert groups == [4, 2]
    assert [g.completion_tokens for g in alone] == budgets  # rows leave at six different steps
    assert len({g.text for g in alone}) == 6
    for a, b in zip(alone, batched):
        assert same(a, b), (a, b)
        assert b.prefill_seconds > 0 and b.decode_seconds > 0


def test_seeded_sampling_is_the_same_batched(engine, groups):
    calls = [(prompt(10 + 7 * i, i), GenerationParams(max_new_tokens=12 + 3 * i, temperature=0.9, top_p=0.9,
                                                      seed=i % 2)) for i in range(4)]
    alone, batched = run_both(engine, calls)
    assert groups == [4]
    assert all(same(a, b) for a, b in zip(alone, batched)), (alone, batched)
    greedy = engine.generate(calls[0][0], GenerationParams(max_new_tokens=12))
    assert greedy.text != alone[0].text  # it did sample


def test_stop_strings_end_each_row_on_its_own(engine, groups):
    messages = [prompt(8 + 9 * i, 3 * i) for i in range(4)]
    free = [engine.generate(m, GenerationParams(max_new_tokens=40)).text for m in messages]
    # each row stops at a string of its own answer, found at a different place
    stops = [(text[5 + 6 * i:8 + 6 * i],) for i, text in enumerate(free)]
    calls = [(m, GenerationParams(max_new_tokens=40, stop=s)) for m, s in zip(messages, stops)]
    alone, batched = run_both(engine, calls)
    assert groups == [4]
    for a, b, s in zip(alone, batched, stops):
        assert same(a, b), (a, b)
        assert b.finish_reason == "stop" and s[0] not in b.text and b.completion_tokens < 40
    assert len({g.completion_tokens for g in batched}) > 1


def test_a_request_too_long_fails_alone(engine, groups):
    calls = [(prompt(12), GenerationParams(max_new_tokens=10)), (prompt(500), GenerationParams(max_new_tokens=10)),
             (prompt(30, 4), GenerationParams(max_new_tokens=7))]
    alone = [engine.generate(m, p) for m, p in (calls[0], calls[2])]
    futures = [engine.submit(m, p) for m, p in calls]
    with pytest.raises(MinimaxError) as failure:
        futures[1].result(timeout=120)
    assert failure.value.code == ErrorCode.TOO_LARGE
    assert same(futures[0].result(), alone[0]) and same(futures[2].result(), alone[1])
    assert groups == [3]


def test_rows_of_different_sampling_run_in_different_groups(engine, groups):
    calls = [(prompt(6), GenerationParams(max_new_tokens=3)),
             (prompt(6), GenerationParams(max_new_tokens=3, temperature=0.7)),
             (prompt(9), GenerationParams(max_new_tokens=3))]
    alone, batched = run_both(engine, calls)
    assert groups == [2, 1] and all(same(a, b) for a, b in zip(alone, batched))


def test_one_row_answers_at_once(engine, monkeypatch):
    monkeypatch.setenv(ROWS_ENV, "1")
    assert rows_from_env(batch.DEFAULT_ROWS) == 1
    monkeypatch.setattr(engine, "max_rows", 1)
    assert engine.max_in_flight == 1 and not engine.takes_concurrent_calls
    future = engine.submit(prompt(5), GenerationParams(max_new_tokens=4))
    assert future.done() and engine._batcher is None
    monkeypatch.delenv(ROWS_ENV)
    assert rows_from_env(batch.DEFAULT_ROWS) == batch.DEFAULT_ROWS == 4
