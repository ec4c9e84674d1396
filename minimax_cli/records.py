"""Result records: one JSON object per line, in the OpenAI Batch output envelope.

A success is `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error":
null}` whose body carries the task's result with its source, model, settings, usage and timings; a
failure has `"body": null` and `"error": {"code", "message"}`, status 400 when the input was at
fault and 500 when the model was. Tools that know only OpenAI's schema read these files as they are.

Writers append and fsync each line, so a crash loses at most the line being written; readers skip
such a torn last line, and `repair_tail` removes it before more lines are appended.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from types import TracebackType

from minimax_cli.engine.base import EngineInfo
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.document import Document
from minimax_cli.tasks.result import TaskResult

BODY_OBJECT = "minimax.result"
# Failures of the model or the machine, not of the input: the same request may succeed on a retry.
MODEL_ERRORS = frozenset(
    {ErrorCode.MODEL_NOT_FOUND, ErrorCode.BAD_CHECKPOINT, ErrorCode.MODEL_ERROR, ErrorCode.OUT_OF_MEMORY}
)


def success_record(
    custom_id: str,
    result: TaskResult,
    doc: Document,
    engine_info: EngineInfo,
    settings: dict,
    prompt_sha256: str,
) -> dict:
    body = {
        "object": BODY_OBJECT,
        "task": result.task,
        "result": result.result,
        "source": doc.source_info(),
        "model": engine_info.to_dict(),
        "settings": settings,
        "usage": result.usage.to_dict(),
        "timings": {
            "seconds": round(result.seconds, 3),
            "prefill_seconds": round(result.usage.prefill_seconds, 3),
            "decode_seconds": round(result.usage.decode_seconds, 3),
        },
        "strategy": result.strategy,
        "created": int(time.time()),
        "prompt_sha256": prompt_sha256,
    }
    if result.warnings:
        body["warnings"] = result.warnings
    return envelope(custom_id, 200, body, None)


def error_record(custom_id: str, error: MinimaxError) -> dict:
    status = 500 if error.code in MODEL_ERRORS else 400
    detail = {"code": error.code.value, "message": error.message}
    if error.path:
        detail["path"] = error.path
    return envelope(custom_id, status, None, detail)


def envelope(custom_id: str, status: int, body: dict | None, error: dict | None) -> dict:
    """One line of an OpenAI Batch output file: a fresh id, the caller's custom_id, and either a
    response body or an error."""
    return {
        "id": f"mmx_{secrets.token_hex(12)}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": f"req_{secrets.token_hex(12)}", "body": body},
        "error": error,
    }


def encode(record: dict) -> bytes:
    """One line of UTF-8 JSON; lone surrogates (from undecodable file names or text) are dropped."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return line.encode("utf-8", errors="ignore") + b"\n"


class RecordWriter:
    """Appends records to a JSONL file, each flushed and fsynced before `write` returns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = None

    def __enter__(self) -> RecordWriter:
        if self.path.exists():
            repair_tail(self.path)
        self._file = open(self.path, "ab")
        return self

    def write(self, record: dict) -> None:
        if self._file is None:
            raise RuntimeError("RecordWriter is not open; use it as a context manager")
        self._file.write(encode(record))
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_records(path: str | Path) -> list[dict]:
    """The records of a JSONL file; a torn last line (no newline and not valid JSON) is ignored."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            if number == len(lines):  # the last line, with no newline after it: torn by a crash
                break
            raise ValueError(f"{path}:{number}: not a JSON record") from None
    return records


def repair_tail(path: str | Path) -> int:
    """Make the file end with a whole line: a torn last line is cut off, a whole one without its
    newline gets one. Returns the number of bytes removed."""
    with open(path, "rb+") as f:
        start = _last_line_start(f)
        f.seek(start)
        tail = f.read()
        if not tail or tail.endswith(b"\n"):
            return 0
        try:
            json.loads(tail)
        except (json.JSONDecodeError, UnicodeDecodeError):
            f.truncate(start)
            removed = len(tail)
        else:
            f.write(b"\n")
            removed = 0
        f.flush()
        os.fsync(f.fileno())
        return removed


def _last_line_start(f, block: int = 1 << 16) -> int:
    """The offset just after the file's last newline that is not its final byte (0 if none)."""
    end = f.seek(0, os.SEEK_END)
    pos = max(end - 1, 0)  # a newline as the very last byte ends the last line; look before it
    while pos > 0:
        start = max(pos - block, 0)
        f.seek(start)
        chunk = f.read(pos - start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        pos = start
    return 0
