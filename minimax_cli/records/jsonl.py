"""The results file as JSON lines: the one line a record is written as, the reader that skips a
torn last line, the repair that cuts it off, and the check that refuses a file that is not ours."""

from __future__ import annotations

import json
import os
from pathlib import Path


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
