"""HFEngine end to end on the real embedded default model (Qwen2.5-Coder-1.5B-Instruct).

The module loads it once through the real path (`open_engine("default")` with
MINIMAX_CPU_ENGINE=hf; OpenVINO is the CPU default): a minute and a half the first time on a fresh
cache (join, convert), a few seconds after that.
"""

import copy
import random

import pytest
import torch

from minimax_cli.engine.base import GenerationParams, Message
from minimax_cli.engine.factory import open_engine
from minimax_cli.engine.base import shared_prefix_length
from minimax_cli.engine.hf.lookahead import NgramDrafter, ngram_draft
from minimax_cli.engine.pieces import split_for_tokenizer
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS
from minimax_cli.sources import load_document
from minimax_cli.tasks.framing import render
from minimax_cli.tasks.prompts import chat as task_chat, load_prompt

QUESTION = [Message("user", "What is 2+3? Answer with one number.")]


@pytest.fixture(scope="module")
def engine():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINIMAX_CPU_ENGINE", "hf")
        return open_engine("default")


def chat(messages):
    return [{"role": m.role, "content": m.content} for m in messages]


def test_split_for_tokenizer_cuts_before_words():
    text = "alpha  beta\tgamma\n\ndelta " * 50
    pieces = list(split_for_tokenizer(text, size=40))
    assert "".join(pieces) == text and all(len(p) <= 40 for p in pieces)
    assert all(p.startswith(" ") and not p[1].isspace() for p in pieces[1:])
    assert list(split_for_tokenizer("x" * 100, size=30)) == ["x" * 30] * 3 + ["x" * 10]


@pytest.mark.slow
def test_info(engine):
    info = engine.info
    assert (info.name, info.engine, info.dtype, info.devices) == ("default", "hf", "float32", ["cpu"])
    assert info.context_window == engine.context_window == 32768
    assert "cc324af070c2" in info.path
    assert {151645, 151643} <= engine.eos_ids  # <|im_end|> and <|endoftext|>
    assert engine.default_params == GenerationParams(max_new_tokens=512, temperature=0.0)


@pytest.mark.slow
def test_answers_greedily_and_stops_at_end_of_turn(engine):
    g = engine.generate(QUESTION, GenerationParams(max_new_tokens=16))
    assert "5" in g.text and g.reasoning is None
    assert g.finish_reason == "stop" and 1 <= g.completion_tokens < 16
    assert g.prompt_tokens == engine.count_chat_tokens(QUESTION)
    assert g.prefill_seconds > 0 and g.decode_seconds >= 0


@pytest.mark.slow
def test_max_new_tokens_gives_length(engine):
    story = [Message("user", "Write a long story about a canal.")]
    g = engine.generate(story, GenerationParams(max_new_tokens=3))
    assert (g.finish_reason, g.completion_tokens) == ("length", 3) and g.text


@pytest.mark.slow
def test_stop_string_cuts_the_answer(engine):
    g = engine.generate([Message("user", "Count from 1 to 10, separated by commas.")],
                        GenerationParams(max_new_tokens=30, stop=("5",)))
    assert g.finish_reason == "stop" and "4" in g.text and "5" not in g.text


@pytest.mark.slow
def test_chunked_prefill_gives_the_same_answer(engine, monkeypatch):
    messages = [Message("user", "The wharf opened in 1999 after a letter from Margaret Ellery. "
                                "Who wrote the letter? Answer with her name only.")]
    params = GenerationParams(max_new_tokens=6)
    whole = engine.generate(messages, params)
    monkeypatch.setattr(engine, "prefill_chunk", 7)
    chunked = engine.generate(messages, params)
    assert chunked.text == whole.text and "Ellery" in whole.text


@pytest.mark.slow
def test_sampling_is_seeded(engine):
    params = GenerationParams(max_new_tokens=6, temperature=0.8, top_p=0.9, seed=3)
    messages = [Message("user", "Write a haiku about rain.")]
    assert engine.generate(messages, params).text == engine.generate(messages, params).text


@pytest.mark.slow
def test_token_count_matches_the_tokenizer(engine):
    text = "The Harwick Canal reopened in 2018,  after   thirty years.\n\nnaïve café 🚀 " * 3000
    assert len(text) > 3 * (1 << 16)  # several tokenizer pieces
    assert engine.count_tokens(text) == len(engine.tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.slow
def test_chat_token_count_matches_the_rendered_template(engine):
    messages = [Message("system", "You are terse."),
                Message("user", "Summarize:\n\nThe wharf opened in 1999.")]
    rendered = engine.tokenizer.apply_chat_template(chat(messages), add_generation_prompt=True, tokenize=True)
    assert engine.count_chat_tokens(messages) == len(rendered["input_ids"])
    assert engine.chat_overhead(messages) > 5


@pytest.mark.slow
def test_document_text_cannot_end_the_turn(engine):
    messages = [Message("user", "Repeat: a <|im_end|> b")]
    ids = engine.chat.prompt_ids(messages)
    assert ids.count(151645) == 2  # the system turn's end and the user turn's end, not the text's


@pytest.mark.slow
def test_prompt_larger_than_the_window_is_refused(engine, monkeypatch):
    monkeypatch.setattr(engine.info, "context_window", 20)
    with pytest.raises(MinimaxError) as err:
        engine.generate(QUESTION, GenerationParams(max_new_tokens=4))
    assert err.value.code == ErrorCode.TOO_LARGE


# ---- prompt-lookup decoding and shared-prefix generation ----------------------------------------------


def test_ngram_draft_on_small_lists():
    assert ngram_draft([1, 2, 3, 4, 1, 2, 3], k=3) == [4, 1, 2]  # the 3-gram 1 2 3 came before
    assert ngram_draft([5, 6, 7, 5, 6, 8, 5, 6], k=2) == [8, 5]  # the most recent occurrence wins
    assert ngram_draft([1, 2, 3, 9, 2], k=2) == [3, 9]  # no 3- or 2-gram match: the 1-gram 2
    assert ngram_draft([1, 2, 3, 9, 2], k=2, min_ngram=2) == []
    assert ngram_draft([7, 7, 7, 7], k=5) == [7]  # occurrences may overlap the tail
    assert ngram_draft([1, 2, 1], k=5) == [2, 1]  # a draft stops where the ids do
    assert ngram_draft([1, 2, 3], k=4) == [] and ngram_draft([], k=4) == []
    assert ngram_draft([1, 2, 1], k=0) == []
    rng = random.Random(0)
    for _ in range(500):
        ids = [rng.randrange(4) for _ in range(rng.randrange(25))]
        k, half = rng.randrange(6), len(ids) // 2
        drafter = NgramDrafter(ids[:half])
        drafter.extend(ids[half:])  # incremental == from scratch
        assert drafter.draft(k)[0] == ngram_draft(ids, k)


def decode(engine, prefilled, params, *, lookahead=True):
    """Token ids from a copy of a prefilled cache, with or without lookahead."""
    ids, logits, cache = prefilled
    saved = engine.lookahead
    engine.lookahead = lookahead
    try:
        with torch.inference_mode():
            out, _, _ = engine._decode_loop(ids, logits, copy.deepcopy(cache), params,
                                            params.max_new_tokens, NULL_PROGRESS)
    finally:
        engine.lookahead = saved
    return out, engine.last_stats


def prefill(engine, messages):
    ids = engine.chat.prompt_ids(messages)
    with torch.inference_mode():
        logits, cache = engine._prefill(ids, None, NULL_PROGRESS)
    return ids, logits, cache


@pytest.fixture(scope="module")
def book_summary(engine):
    """The summary job's prompt for samples/book.pdf, prefilled."""
    doc = load_document("samples/book.pdf")
    user = load_prompt("summarize_single").render(words=300, document=render(doc, doc.segments, "summarize"))
    return prefill(engine, task_chat(user))


@pytest.fixture(scope="module")
def repetitive(engine):
    items = "\n".join(f"{w}-{n}" for w, n in zip("amber basalt cedar delta ember fjord garnet harbor".split(),
                                                  (17, 42, 8, 93, 5, 61, 30, 77)))
    messages = [Message("user", f"Write this list three times, with a blank line between the copies:\n\n{items}")]
    return prefill(engine, messages)


@pytest.mark.slow
def test_lookahead_gives_the_greedy_tokens_on_the_book_summary(engine, book_summary):
    params = GenerationParams(max_new_tokens=40)
    plain, plain_stats = decode(engine, book_summary, params, lookahead=False)
    fast, stats = decode(engine, book_summary, params)
    assert fast == plain and len(plain) == 40 and plain_stats.drafted == 0
    assert stats.accepted > 0 and stats.forwards < plain_stats.forwards


@pytest.mark.slow
def test_lookahead_gives_the_greedy_tokens_on_repetitive_text(engine, repetitive):
    assert engine.penalty.penalty == 1.05
    params = GenerationParams(max_new_tokens=60)
    plain, _ = decode(engine, repetitive, params, lookahead=False)
    fast, stats = decode(engine, repetitive, params)
    assert fast == plain
    assert stats.acceptance > 0.5 and stats.forwards < len(plain) / 2


@pytest.mark.slow
def test_lookahead_with_every_draft_rejected(engine, repetitive, monkeypatch):
    never = engine.tokenizer.convert_tokens_to_ids("<|fim_pad|>")  # a token no answer contains
    monkeypatch.setattr(NgramDrafter, "draft", lambda self, k: ([never] * k, 1))
    params = GenerationParams(max_new_tokens=12)
    plain, _ = decode(engine, repetitive, params, lookahead=False)
    fast, stats = decode(engine, repetitive, params)
    assert fast == plain and never not in plain
    assert stats.drafted > 0 and stats.accepted == 0 and stats.forwards == len(plain) - 1


@pytest.mark.slow
def test_generate_many_shares_the_document_prefill(engine):
    document = open("samples/book.txt", encoding="utf-8").read().split("Chapter 2")[0]
    questions = ["Who was the previous keeper? Answer with his name only.",
                 "In which year did Marta arrive? Answer with the year only.",
                 "How old was Elsie? Answer with a number only."]
    conversations = [[Message("system", "Answer from the document."),
                      Message("user", f"<document>\n{document}\n</document>\n\n{q}")] for q in questions]
    params = GenerationParams(max_new_tokens=8)
    many = engine.generate_many(conversations, params)
    alone = [engine.generate(c, params) for c in conversations]
    assert [g.text for g in many] == [g.text for g in alone]
    assert [g.prompt_tokens for g in many] == [g.prompt_tokens for g in alone]
    shared = shared_prefix_length([engine.chat.prompt_ids(c) for c in conversations])
    assert shared > 300 and [g.cached_tokens for g in many] == [0, shared, shared]
    assert "Finch" in many[0].text and "1884" in many[1].text
