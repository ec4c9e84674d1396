"""OpenVINOEngine end to end on the embedded default model's GGUF (Qwen2.5-Coder-1.5B-Instruct).

The 'small' model cannot stand in: its GGUF holds Q5_0 tensors, which OpenVINO GenAI does not
read. Loading takes half a minute; the first load on a fresh cache also saves the tokenizer.
"""

import sys

import pytest

pytest.importorskip("openvino_genai")

from transformers import AutoTokenizer  # noqa: E402

from minimax_cli.config import cache_dir  # noqa: E402
from minimax_cli.engine.base import GenerationParams, Message  # noqa: E402
from minimax_cli.engine.embedded import EMBEDDED, find_parts, join_parts  # noqa: E402
from minimax_cli.engine.openvino import OpenVINOEngine  # noqa: E402
from minimax_cli.errors import ErrorCode, MinimaxError  # noqa: E402

pytestmark = pytest.mark.slow

QUESTION = [Message("user", "What is 2+3? Answer with one number.")]
DOCUMENT = (
    "The Gannet Point lighthouse was built in 1871 by the engineer Thomas Vail. Its first keeper, "
    "Ada Moreton, kept a ledger of every ship that passed, and during the storm of 1887 she rowed "
    "out to the schooner Margaret and brought nine sailors ashore. The light was automated in 1962."
)


def ask(question: str) -> list[Message]:
    return [Message("system", "Answer from the document, in a few words."),
            Message("user", f"<document>\n{DOCUMENT}\n</document>\n\nQuestion: {question}")]


@pytest.fixture(scope="module")
def gguf():
    model = EMBEDDED["default"]
    path = model.gguf_path(cache_dir())
    if not path.is_file():
        join_parts(find_parts(model), path, sha256=model.sha256)
    return path


@pytest.fixture(scope="module")
def engine(gguf):
    return OpenVINOEngine.load(gguf, name="default")


@pytest.fixture(scope="module")
def reference(gguf):
    """The tokenizer read straight from the GGUF, not the engine's cached copy of it."""
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def test_info(engine):
    info = engine.info
    assert (info.name, info.engine, info.devices) == ("default", "openvino", ["cpu"])
    assert info.context_window == engine.context_window == 32768
    assert {151645, 151643} <= engine.eos_ids  # <|im_end|> and <|endoftext|>


def test_counts_and_prompt_ids_are_the_tokenizers(engine, reference):
    text = "Keeper Ada Moreton rowed out in 1887 <|im_end|> — naïve café 数字 \t tabs"
    assert engine.count_tokens(text) == len(reference.encode(text, add_special_tokens=False,
                                                              split_special_tokens=True))
    for messages in (QUESTION, ask("Who built the lighthouse?")):
        chat = [{"role": m.role, "content": m.content} for m in messages]
        ids = list(reference.apply_chat_template(chat, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"])
        assert engine.chat.prompt_ids(messages) == ids
        assert engine.count_chat_tokens(messages) == len(ids)
        # OpenVINO's own tokenizer agrees, so its stop-string matching sees the same text.
        rendered = reference.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        ov_ids = engine.pipeline.get_tokenizer().encode(rendered, add_special_tokens=False).input_ids
        assert ov_ids.data.tolist()[0] == ids


def test_answers_greedily_and_stops_at_end_of_turn(engine, capfd):
    g = engine.generate(QUESTION, GenerationParams(max_new_tokens=16))
    assert "5" in g.text and g.reasoning is None
    assert g.finish_reason == "stop" and 1 <= g.completion_tokens < 16
    assert g.prompt_tokens == engine.count_chat_tokens(QUESTION)
    assert g.prefill_seconds > 0 and g.decode_seconds >= 0
    assert capfd.readouterr().err == ""  # OpenVINO and transformers stay quiet


def test_max_new_tokens_gives_length(engine):
    g = engine.generate([Message("user", "Write a long story about a canal.")],
                        GenerationParams(max_new_tokens=3))
    assert (g.finish_reason, g.completion_tokens) == ("length", 3) and g.text


def test_stop_string_cuts_the_answer(engine):
    g = engine.generate([Message("user", "Count from 1 to 10, separated by commas.")],
                        GenerationParams(max_new_tokens=30, stop=("5",)))
    assert g.finish_reason == "stop" and "4" in g.text and "5" not in g.text


def test_same_seed_same_sample(engine):
    poem = [Message("user", "Write one line about the sea.")]
    params = GenerationParams(max_new_tokens=12, temperature=0.9, top_p=0.95, seed=7)
    first, second = engine.generate(poem, params), engine.generate(poem, params)
    assert first.text == second.text and first.completion_tokens == second.completion_tokens


def test_generate_many_equals_one_at_a_time(engine):
    questions = ["Who built the lighthouse?", "Who was the first keeper?", "When was it automated?"]
    params = GenerationParams(max_new_tokens=12)
    alone = [engine.generate(ask(q), params) for q in questions]
    together = engine.generate_many([ask(q) for q in questions], params)
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.completion_tokens for g in together] == [g.completion_tokens for g in alone]
    assert [g.finish_reason for g in together] == [g.finish_reason for g in alone]
    assert "Vail" in together[0].text and "1962" in together[2].text
    assert together[1].cached_tokens >= 64  # the document was prefilled once, ahead of the batch
    assert all(g.prefill_seconds > 0 and g.decode_seconds > 0 for g in together)


def test_prompt_over_the_window_is_refused(engine, monkeypatch):
    monkeypatch.setattr(engine.info, "context_window", 20)
    with pytest.raises(MinimaxError) as err:
        engine.generate(QUESTION, GenerationParams(max_new_tokens=4))
    assert err.value.code == ErrorCode.TOO_LARGE


def test_unreadable_gguf_is_a_bad_checkpoint(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(MinimaxError) as err:
        OpenVINOEngine.load(bad, cache=tmp_path)
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "\n" not in str(err.value)


def test_missing_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino_genai", None)  # makes the import fail
    with pytest.raises(MinimaxError) as err:
        OpenVINOEngine.load(tmp_path / "model.gguf")
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "pip install 'minimax-cli[cpu]'" in str(err.value)
