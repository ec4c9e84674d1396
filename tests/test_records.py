import json
import os

import pytest

from minimax_cli.engine.base import EngineInfo, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.batch.output import BatchOutput
from minimax_cli.records import (ChatCompletion, ModelInfo, Record, RecordError, ResultsFileError, Source, TokenUsage,
                                 canonical_json, encode, envelope, error_record, read_records, repair_tail,
                                 success_record)
from minimax_cli.sources.document import Document, Locator, Segment, Skipped
from minimax_cli.tasks.result import TaskResult, Usage

DOC = Document("book.pdf", "pdf", [Segment("text", Locator("book.pdf", page=1))], "abc123", pages=1)
INFO = EngineInfo(name="default", engine="hf", dtype="float32", context_window=32768)


def result(summary="A summary.") -> TaskResult:
    usage = Usage(prompt_tokens=100, completion_tokens=20, calls=1, prefill_seconds=1.5, decode_seconds=2.25)
    return TaskResult("summarize", {"summary": summary, "strategy": "single"}, summary, "single", usage, seconds=4.0)


def record(custom_id="doc-1", summary="A summary."):
    settings = {**GenerationParams().to_dict(), "length": "short"}
    return success_record(custom_id, result(summary), DOC, INFO.to_dict(), settings, "f" * 64)


def test_success_envelope():
    r = record()
    assert set(r) == {"id", "custom_id", "response", "error"}
    assert r["id"].startswith("mmx_") and r["custom_id"] == "doc-1" and r["error"] is None
    assert r["response"]["status_code"] == 200 and r["response"]["request_id"]
    body = r["response"]["body"]
    assert body["object"] == "minimax.result" and body["task"] == "summarize"
    assert body["result"] == {"summary": "A summary.", "strategy": "single"}
    assert body["source"] == {"path": "book.pdf", "kind": "pdf", "sha256": "abc123", "pages": 1}
    assert body["model"] == {"name": "default", "engine": "hf", "dtype": "float32", "context_window": 32768}
    assert body["settings"]["length"] == "short" and body["settings"]["max_new_tokens"] == 512
    assert body["usage"]["total_tokens"] == 120 and body["usage"]["calls"] == 1
    assert body["timings"] == {"seconds": 4.0, "prefill_seconds": 1.5, "decode_seconds": 2.25}
    assert body["strategy"] == "single" and isinstance(body["created"], int)
    assert body["prompt_sha256"] == "f" * 64
    assert record()["id"] != r["id"]


def test_error_lines_say_whose_fault():
    bad = error_record("doc-2", MinimaxError(ErrorCode.ENCRYPTED, "the PDF needs a password", "x.pdf"))
    assert bad["response"]["status_code"] == 400 and bad["response"]["body"] is None
    assert bad["error"] == {"code": "encrypted", "message": "the PDF needs a password", "path": "x.pdf"}
    oom = error_record("doc-3", MinimaxError(ErrorCode.OUT_OF_MEMORY, "out of memory"))
    assert oom["response"]["status_code"] == 500 and oom["error"] == {
        "code": "out_of_memory",
        "message": "out of memory",
    }


def test_writer_appends_and_fsyncs_each_line(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    path = tmp_path / "out.jsonl"
    with BatchOutput(path) as writer:
        writer.append(record("a"))
        writer.append(record("b"))
    with BatchOutput(path) as writer:
        writer.append(error_record("c", MinimaxError(ErrorCode.EMPTY, "no text")))
    assert len(synced) == 3
    assert [r["custom_id"] for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_bytes().count(b"\n") == 3


def test_text_is_utf8_without_lone_surrogates(tmp_path):
    path = tmp_path / "out.jsonl"
    with BatchOutput(path) as writer:
        writer.append(record(summary="café \u4e2d\u6587 bad\udc80byte"))
    raw = path.read_bytes()
    assert "café 中文".encode() in raw
    assert read_records(path)[0]["response"]["body"]["result"]["summary"] == "café 中文 badbyte"


def test_torn_last_line_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "out.jsonl"
    with BatchOutput(path) as writer:
        writer.append(record("a"))
    whole = path.read_bytes()
    with open(path, "ab") as f:
        f.write(json.dumps(record("b")).encode()[:40])  # a crash mid-line
    assert [r["custom_id"] for r in read_records(path)] == ["a"]
    assert repair_tail(path) == 40
    assert path.read_bytes() == whole
    assert repair_tail(path) == 0


def test_writer_repairs_a_torn_tail_before_appending(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(json.dumps(record("a")).encode() + b"\n" + b'{"id": "mmx_torn", "cus')
    with BatchOutput(path) as writer:
        writer.append(record("b"))
    assert [r["custom_id"] for r in read_records(path)] == ["a", "b"]


def test_whole_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(json.dumps(record("a")).encode())
    assert [r["custom_id"] for r in read_records(path)] == ["a"]
    assert repair_tail(path) == 0 and path.read_bytes().endswith(b"}\n")


def test_a_broken_line_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"{broken\n" + json.dumps(record("a")).encode() + b"\n")
    with pytest.raises(ValueError, match="line 1"):
        read_records(path)


def test_a_file_that_is_not_a_results_file_is_refused_untouched(tmp_path):
    """notes.txt without a trailing newline: its last line is the user's, not a torn record."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"shopping list\nmilk")
    with pytest.raises(ResultsFileError, match="not a results file"):
        with BatchOutput(notes) as writer:
            writer.append(record("a"))
    assert notes.read_bytes() == b"shopping list\nmilk"
    for target, reason in ((tmp_path, "is a folder"), (tmp_path / "missing" / "o.jsonl", "does not exist")):
        with pytest.raises(ResultsFileError, match=reason):
            BatchOutput(target).__enter__()


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    with BatchOutput(path) as writer:
        writer.append(record("a"))
        before = path.read_bytes()
        real_write = os.write

        def disk_full(fd, data):  # half the line reaches the disk, then ENOSPC
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "write", disk_full)
        with pytest.raises(ResultsFileError, match="No space left on device"):
            writer.append(record("b"))
    assert path.read_bytes() == before


# ---- typed records -------------------------------------------------------------------------------

def pinned(monkeypatch):
    """Fresh ids and `created` made repeatable, so two ways of building a record can be compared."""
    import secrets
    import time

    counter = iter(range(1 << 30))
    monkeypatch.setattr(secrets, "token_hex", lambda n: f"{next(counter):0{2 * n}x}")
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.75)


def old_envelope(custom_id, status, body, error):
    """A record as the writers built it before records had types: dict literals, fingerprint added last."""
    import secrets

    return {"id": f"mmx_{secrets.token_hex(12)}", "custom_id": custom_id,
            "response": {"status_code": status, "request_id": f"req_{secrets.token_hex(12)}", "body": body},
            "error": error}


def old_success(custom_id, result, doc, model, settings, prompt_sha256):
    import time

    body = {"object": "minimax.result", "task": result.task, "result": result.result, "source": doc.source_info(),
            "model": model, "settings": settings, "usage": result.usage.to_dict(),
            "timings": {"seconds": round(result.seconds, 3), "prefill_seconds": round(result.usage.prefill_seconds, 3),
                        "decode_seconds": round(result.usage.decode_seconds, 3)},
            "strategy": result.strategy, "created": int(time.time()), "prompt_sha256": prompt_sha256}
    if result.warnings:
        body["warnings"] = result.warnings
    return old_envelope(custom_id, 200, body, None)


def chat_body():
    from minimax_cli.batch.requests import completion_body
    from minimax_cli.engine.base import Generation

    return completion_body(Generation("Hello.", 12, 3, "stop", reasoning="A greeting."), "default")


FULL_INFO = EngineInfo(name="big", engine="hybrid", path="/models/m", dtype="bfloat16", quant="int8",
                       devices=["cuda:0", "cuda:1"], context_window=1 << 20)
FOLDER = Document("repo", "repo", [Segment("x", Locator("a.py", start_line=1))], "def456", files=["a.py", "b.py"],
                  skipped=[Skipped("big.bin", "too large")])


def built_both_ways(monkeypatch):
    """(old dict, new dict) pairs: successes with and without warnings, failures, a chat answer."""
    warned = result()
    warned.warnings = ["the document was cut"]
    settings = {**GenerationParams().to_dict(), "length": "short"}
    cases = [
        (old_success, success_record, ("a", result(), DOC, INFO.to_dict(), settings, "f" * 64)),
        (old_success, success_record, ("b", warned, FOLDER, FULL_INFO.to_dict(), settings, "e" * 64)),
        (lambda cid, e: old_envelope(cid, 400, None, {"code": e.code.value, "message": e.message, "path": e.path}),
         error_record, ("c", MinimaxError(ErrorCode.ENCRYPTED, "the PDF needs a password", "x.pdf"))),
        (lambda cid, e: old_envelope(cid, 500, None, {"code": e.code.value, "message": e.message}),
         error_record, ("d", MinimaxError(ErrorCode.OUT_OF_MEMORY, "out of memory"))),
        (lambda cid, body: old_envelope(cid, 200, body, None),
         lambda cid, body: envelope(cid, 200, body, None), ("e", chat_body())),
    ]
    pairs = []
    for old, new, args in cases:
        pinned(monkeypatch)
        before = old(*args)
        pinned(monkeypatch)
        pairs.append((before, new(*args)))
    return pairs


def test_typed_records_write_the_bytes_the_dict_records_did(monkeypatch):
    for old, new in built_both_ways(monkeypatch):
        assert canonical_json(new) == canonical_json(old)
        assert encode(new) == encode(old)  # key order too: result lines are not sorted
        (old["error"] or old["response"]["body"])["fingerprint"] = "9" * 64  # as the batch stamps them
        assert encode(Record.from_json(new).stamp("9" * 64).to_json()) == encode(old)


def test_records_round_trip(monkeypatch):
    for _, new in built_both_ways(monkeypatch):
        record = Record.from_json(new)
        assert record.to_json() == new and encode(record.to_json()) == encode(new)
        assert Record.from_json(record.to_json()) == record
        stamped = Record.from_json(new).stamp("a" * 64)
        assert Record.from_json(stamped.to_json()) == stamped and stamped.fingerprint == "a" * 64
    assert isinstance(Record.from_json(new).body, ChatCompletion)


def test_the_typed_parts_say_all_that_their_sources_do():
    """The record mirrors the engine's, the document's and the usage's own JSON: a key added there
    must be added here too, or records would silently drop it."""
    assert ModelInfo.from_json(FULL_INFO.to_dict()).to_json() == FULL_INFO.to_dict()
    assert set(FULL_INFO.to_dict()) == set(ModelInfo.__dataclass_fields__)
    everything = Document("book.pdf", "pdf", [Segment("x", Locator("book.pdf", page=1))], "abc", title="Book",
                          pages=3, files=["book.pdf"], skipped=[Skipped("cover.png", "binary", "an image")])
    for doc in (DOC, FOLDER, everything):
        assert Source.from_json(doc.source_info()).to_json() == doc.source_info()
    usage = result().usage
    assert TokenUsage.from_json(usage.to_dict()).to_json() == usage.to_dict()


def test_records_of_earlier_versions_read_with_defaults():
    """Before fingerprints, usage without cached_tokens, a model without its optional fields."""
    old = {"id": "mmx_1", "custom_id": "a", "response": {"status_code": 200, "request_id": "req_1", "body": {
        "object": "minimax.result", "task": "summarize", "result": {"summary": "s"},
        "source": {"path": "a.txt", "kind": "text", "sha256": "0" * 64}, "model": {"name": "m", "engine": "hf"},
        "settings": {}, "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "calls": 1},
        "timings": {"seconds": 1.0, "prefill_seconds": 0.5, "decode_seconds": 0.5}, "strategy": "single",
        "created": 1, "prompt_sha256": "p"}}, "error": None}
    record = Record.from_json(old)
    assert record.fingerprint is None and record.body.warnings == [] and record.body.usage.cached_tokens is None
    assert record.to_json() == old
    bare = Record.from_json({"custom_id": "b", "error": {"code": "empty", "message": "no text"}})
    assert bare.response is None and bare.status_code is None and bare.error.path is None


def test_what_is_not_a_record_raises_record_error():
    for raw in ([1], {"id": "x"}, {"custom_id": 3}, {"custom_id": "a", "error": "oops"},
                {"custom_id": "a", "response": {"status_code": 200, "body": {"object": "other"}}},
                {"custom_id": "a", "response": {"status_code": "200"}},
                {"custom_id": "a", "response": {"body": {"object": "minimax.result", "usage": []}}}):
        with pytest.raises(RecordError):
            Record.from_json(raw)
    assert issubclass(RecordError, ValueError)  # what the reader's callers already turn into "not a results file"
