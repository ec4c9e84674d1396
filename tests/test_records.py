import json
import os

import pytest

from minimax_cli.engine.base import EngineInfo, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.batch.output import BatchOutput
from minimax_cli.records import ResultsFileError, error_record, read_records, repair_tail, success_record
from minimax_cli.sources.document import Document, Locator, Segment
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
