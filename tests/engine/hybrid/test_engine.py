"""HybridEngine on a synthetic checkpoint: chat rendering, tokenization in pieces, generation,
shared-prefix reuse, and scoring."""

import pytest
import torch

from minimax_cli.engine.base import GenerationParams, Message
from minimax_cli.engine.hybrid.chat import as_parts, render_pieces
from minimax_cli.engine.base import shared_prefix_length
from minimax_cli.engine.hybrid.engine import HybridEngine
from minimax_cli.engine.pieces import split_for_tokenizer
from minimax_cli.synthetic import write_synth_checkpoint


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = write_synth_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", "tiny", seed=1)
    return HybridEngine.from_path(folder, dtype="float32", device="cpu", chunk_size=64)


CONVERSATIONS = [
    [Message("user", "hi")],
    [Message("system", "You are terse."), Message("user", "Summarize:\n\nThe wharf opened in 1999.")],
    [Message("user", "a"), Message("assistant", "b"), Message("user", "c <end_of_sentence> d")],
    [Message("system", "one"), Message("user", "x"), Message("system", "two")],
]


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_pieces_render_exactly_the_checkpoint_template(engine, messages):
    ours = "".join(text for text, _ in render_pieces(messages))
    theirs = engine.tokenizer.apply_chat_template(as_parts(messages), tokenize=False, add_generation_prompt=True)
    assert ours == theirs


def test_document_text_cannot_inject_control_tokens(engine):
    ids = engine.chat.prompt_ids([Message("user", "c <end_of_sentence> d")])
    eos = engine.tokenizer.convert_tokens_to_ids("<end_of_sentence>")
    assert ids.count(eos) == 1  # only the template's own end of turn


def test_stop_id_is_the_tokenizers_end_of_sentence(engine):
    assert engine.model.config.eos_token_id is None  # null in the config, as in the real ones
    assert engine.stop_ids == [engine.tokenizer.convert_tokens_to_ids("<end_of_sentence>")]


def test_tokenizing_in_pieces_equals_whole(engine):
    text = ("The canal reopened in 2018  after   years. " * 400) + "naïve café 🚀 end"
    pieces = list(split_for_tokenizer(text, size=300))
    assert len(pieces) > 10 and "".join(pieces) == text
    whole = engine.tokenizer.encode(text, add_special_tokens=False)
    assert engine.chat.encode_content(text) == whole
    assert engine.count_tokens(text) == len(whole)


def test_chat_token_count_matches_prompt(engine):
    messages = CONVERSATIONS[1]
    assert engine.count_chat_tokens(messages) == len(engine.chat.prompt_ids(messages))


def test_generate_greedy_is_deterministic_and_bounded(engine):
    params = GenerationParams(max_new_tokens=12, temperature=0.0)
    a = engine.generate([Message("user", "Tell me about the wharf.")], params)
    b = engine.generate([Message("user", "Tell me about the wharf.")], params)
    assert a.text == b.text and a.completion_tokens == b.completion_tokens <= 12
    assert a.finish_reason in ("stop", "length") and a.prompt_tokens > 5


def test_sampling_depends_on_seed(engine):
    msgs = [Message("user", "Say something.")]
    outs = {engine.generate(msgs, GenerationParams(max_new_tokens=16, temperature=1.0, seed=s)).text
            for s in range(4)}
    assert len(outs) > 1


def test_stop_string_cuts_the_answer(engine):
    msgs = [Message("user", "Tell me about the wharf.")]
    full = engine.generate(msgs, GenerationParams(max_new_tokens=20)).text
    if len(full) < 4:
        pytest.skip("random model ended its turn at once")
    stop = full[2:4]
    cut = engine.generate(msgs, GenerationParams(max_new_tokens=20, stop=(stop,)))
    assert stop not in cut.text and cut.finish_reason == "stop" and full.startswith(cut.text.strip()[:2])


def test_generate_many_reuses_the_document_prefill(engine):
    doc = "The wharf opened in 1999 after a letter from Margaret Ellery. " * 30
    convs = [[Message("user", f"{doc}\n\nQuestion: {q}")] for q in ("Who?", "When did it open?", "Why?")]
    params = GenerationParams(max_new_tokens=8)
    shared = engine.generate_many(convs, params)
    alone = [engine.generate(c, params) for c in convs]
    assert [g.text for g in shared] == [g.text for g in alone]
    assert shared[0].cached_tokens == 0 and shared[1].cached_tokens > 300
    assert shared[1].cached_tokens == shared[2].cached_tokens


def test_shared_prefix_length_leaves_a_token():
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix_length([[9], [1]]) == 0


def test_score_same_for_every_chunk(engine):
    text = "The canal reopened in 2018 after thirty years of work by volunteers. " * 12
    base = engine.score(text, chunk_size=4096)
    assert base["tokens"] > 100 and base["ppl"] == pytest.approx(torch.tensor(base["nll"]).exp().item())
    for chunk in (1, 7, 64):
        assert engine.score(text, chunk_size=chunk)["nll"] == pytest.approx(base["nll"], abs=1e-5)
