"""HFEngine end to end on the real embedded default model (Qwen2.5-Coder-1.5B-Instruct).

The module loads it once through the real path (`open_engine("default")`): a minute and a half
the first time on a fresh cache (join, convert), a few seconds after that.
"""

import pytest

from minimax_cli.engine.base import GenerationParams, Message
from minimax_cli.engine.factory import open_engine
from minimax_cli.engine.pieces import split_for_tokenizer
from minimax_cli.errors import ErrorCode, MinimaxError

QUESTION = [Message("user", "What is 2+3? Answer with one number.")]


@pytest.fixture(scope="module")
def engine():
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
    ids = engine._prompt_ids(messages)
    assert ids.count(151645) == 2  # the system turn's end and the user turn's end, not the text's


@pytest.mark.slow
def test_prompt_larger_than_the_window_is_refused(engine, monkeypatch):
    monkeypatch.setattr(engine.info, "context_window", 20)
    with pytest.raises(MinimaxError) as err:
        engine.generate(QUESTION, GenerationParams(max_new_tokens=4))
    assert err.value.code == ErrorCode.TOO_LARGE
