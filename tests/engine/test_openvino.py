"""OpenVINOEngine end to end on the embedded default model (Qwen2.5-Coder-1.5B-Instruct), loaded
from the IR folder that `prepare_openvino` builds once (under a minute on a fresh cache; then ~3 s).
"""

import sys
import threading

import pytest
from transformers import AutoTokenizer

from minimax_cli.engine.base import GenerationParams, Message
from minimax_cli.engine.embedded import EMBEDDED, prepare_openvino
from minimax_cli.engine.openvino import OpenVINOEngine
from minimax_cli.errors import ErrorCode, MinimaxError

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
def folder():
    return prepare_openvino(EMBEDDED["default"])


@pytest.fixture(scope="module")
def engine(folder):
    engine = OpenVINOEngine.load(folder, name="default")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def reference(folder):
    """The tokenizer as saved beside the IR, loaded on its own."""
    return AutoTokenizer.from_pretrained(folder)


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
    """Each request samples from its own seeded generator. The first call prefills the prompt, the
    later ones find it in the prefix cache (u8 KV), which moves the logits enough to change a
    sample at temperature 0.9; so the comparison is between warm calls, and between the rows of one
    batch. OpenVINO's batched kernels round differently from one row's, so a sampled answer may
    differ batched and alone (greedy answers match: the next test)."""
    poem = [Message("user", "Write one line about the sea.")]
    params = GenerationParams(max_new_tokens=12, temperature=0.9, top_p=0.95, seed=7)
    engine.generate(poem, params)
    first, second = engine.generate(poem, params), engine.generate(poem, params)
    assert first.text == second.text and first.completion_tokens == second.completion_tokens
    rows = engine.generate_many([poem, poem, poem], params)
    assert len({g.text for g in rows}) == 1


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


def test_submits_from_threads_run_together_and_match_alone(engine):
    """Calls submitted from several threads are stepped together; each gets its own answer, with
    its own limit and stop strings, as it would alone."""
    calls = [(ask("Who built the lighthouse?"), GenerationParams(max_new_tokens=12)),
             ([Message("user", "Count from 1 to 10, separated by commas.")],
              GenerationParams(max_new_tokens=30, stop=("5",))),
             ([Message("user", "Write a long story about a canal.")], GenerationParams(max_new_tokens=5))]
    alone = [engine.generate(m, p) for m, p in calls]
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def call(n):
        start.wait()
        results[n] = engine.submit(*calls[n]).result()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(g.text, g.finish_reason) for g in results] == [(g.text, g.finish_reason) for g in alone]
    assert results[1].finish_reason == "stop" and "5" not in results[1].text
    assert (results[2].finish_reason, results[2].completion_tokens) == ("length", 5)


def test_a_request_that_cannot_run_fails_alone(engine, monkeypatch):
    """Too long for the window: refused at submit, while a request in flight finishes."""
    running = engine.submit(QUESTION, GenerationParams(max_new_tokens=8))
    monkeypatch.setattr(engine.info, "context_window", 20)
    with pytest.raises(MinimaxError) as err:
        engine.submit(ask("Who built the lighthouse?"), GenerationParams(max_new_tokens=4))
    assert err.value.code == ErrorCode.TOO_LARGE
    assert "5" in running.result().text


def test_prompt_over_the_window_is_refused(engine, monkeypatch):
    monkeypatch.setattr(engine.info, "context_window", 20)
    with pytest.raises(MinimaxError) as err:
        engine.generate(QUESTION, GenerationParams(max_new_tokens=4))
    assert err.value.code == ErrorCode.TOO_LARGE


def test_the_ir_folder_holds_no_gguf_and_knows_its_window(folder):
    assert not list(folder.glob("*.gguf")) and (folder / "openvino_model.xml").is_file()
    assert sum(f.stat().st_size for f in folder.iterdir()) < 1.5e9


def test_unreadable_gguf_is_a_bad_checkpoint(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(MinimaxError) as err:
        OpenVINOEngine.load(bad, cache=tmp_path)
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "\n" not in str(err.value)


def test_missing_package_is_one_line_naming_the_reinstall(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino_genai", None)  # makes the import fail
    with pytest.raises(MinimaxError) as err:
        OpenVINOEngine.load(tmp_path / "model.gguf")
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "pip install" in str(err.value) and "\n" not in str(err.value)


def test_a_batch_runs_one_document_at_a_time_by_default(engine):
    """A job's calls run together (8 rows); documents of `minimax batch` one at a time, so a
    document's answers do not depend on what ran beside it."""
    assert (engine.max_in_flight, engine.batch_concurrency, engine.takes_concurrent_calls) == (8, 1, True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_dropped_pages_of_a_mapped_file_leave_rss_and_read_back_the_same(tmp_path):
    """What `_warm_up` does to the IR's weights once OpenVINO has repacked them."""
    import mmap

    from minimax_cli.engine.openvino import _drop_mapped_pages

    def rss_file_kb() -> int:
        line = next(x for x in open("/proc/self/status") if x.startswith("RssFile:"))
        return int(line.split()[1])

    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * (64 << 12)  # 64 MiB
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert sum(mapped[i + 1] for i in range(0, len(data), 4096)) == len(data) // 4096  # touch each page
        before = rss_file_kb()
        _drop_mapped_pages(path)
        after = rss_file_kb()
        assert before - after > 48 << 10  # most of the 64 MiB left this process
        assert mapped[:] == data  # and reads back from the page cache unchanged
