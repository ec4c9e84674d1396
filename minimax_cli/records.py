"""Result records: one JSON object per line, in the OpenAI Batch output envelope.

A success is `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error":
null}` whose body carries the task's result with its source, model, settings, usage and timings; a
failure has `"body": null` and `"error": {"code", "message"}`, status 400 when the input was at
fault and 500 when the model was. Tools that know only OpenAI's schema read these files as they are.

Writers (batch/output.py) append and fsync each line, so a crash loses at most the line being
written; readers skip such a torn last line, and `repair_tail` removes it before more lines are
appended. A file that is not a results file is refused before it is touched (`check_results_file`).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

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
    model: dict,
    settings: dict,
    prompt_sha256: str,
) -> dict:
    body = {
        "object": BODY_OBJECT,
        "task": result.task,
        "result": result.result,
        "source": doc.source_info(),
        "model": model,
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


def canonical_json(value: object) -> str:
    """The one JSON text of `value` (sorted keys, no spaces): what fingerprints hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(record: dict) -> bytes:
    """One line of UTF-8 JSON; lone surrogates (from undecodable file names or text) are dropped."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return line.encode("utf-8", errors="ignore") + b"\n"


class ResultsFileError(Exception):
    """A results file that cannot be written: not a results file, a folder, not writable, or a
    write that failed (disk full); the file is left as it was."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def check_results_file(path: str | Path) -> None:
    """Refuse, before anything touches it, a path that cannot take results: a folder, a path in a
    missing folder, or an existing file that is not JSONL records (a torn last record excepted)."""
    target = Path(path)
    if target.is_dir():
        raise ResultsFileError(target, "is a folder, not a results file")
    if not target.parent.is_dir():
        raise ResultsFileError(target, f"its folder {target.parent} does not exist")
    if not target.exists():
        return
    if not target.is_file():
        raise ResultsFileError(target, "not a regular file")
    try:
        read_records(target)
    except OSError as exc:
        raise ResultsFileError(target, f"cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ResultsFileError(target, f"not a results file ({exc}); nothing was written") from None


def read_records(path: str | Path) -> list[dict]:
    """The records of a JSONL file; a torn last record (no newline, starts with `{`, not valid
    JSON) is ignored. ValueError for any other line that is not a JSON object."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            if number == len(lines) and _torn(line):  # the last record, cut short by a crash
                break
            raise ValueError(f"line {number} is not a JSON record") from None
        if not isinstance(record, dict):
            raise ValueError(f"line {number} is not a JSON object")
        records.append(record)
    return records


def _torn(tail: bytes) -> bool:
    """Whether `tail`, a last line with no newline, is a record a crash cut short (only such a
    line may be cut: anything else is someone's text, never ours to remove)."""
    return tail.lstrip().startswith(b"{")


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
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            if not _torn(tail):
                raise ValueError("the last line is not a JSON record") from None
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
