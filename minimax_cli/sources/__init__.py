"""Documents in: `load_document` turns what the user named into a `Document`.

"-" is text on stdin, a folder is a repository, and a file is read by its suffix: .pdf, .epub,
.diff/.patch, and anything else as text (Markdown, prose, code) when it decodes as text (UTF-8, or
UTF-16/32 with a BOM; `decoding`), or as a diff when it opens like one. Sizes are capped before
reading (`limits`). Every failure is a `MinimaxError` whose code says why and whose message is one
line naming the file; no text leaves a source with a lone surrogate in it.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TextIO

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text
from minimax_cli.sources.decoding import decode
from minimax_cli.sources.diff import load_diff, looks_like_diff
from minimax_cli.sources.document import Document, Locator, Section, Segment, Skipped
from minimax_cli.sources.epub import load_epub
from minimax_cli.sources.limits import FOLDER_FILE_BYTES, TEXT_FILE_BYTES, TooLarge, file_cap, read_at_most, read_file
from minimax_cli.sources.paths import path_error, walk_folder
from minimax_cli.sources.pdf import load_pdf
from minimax_cli.sources.repo import load_repo
from minimax_cli.sources.text import load_text

__all__ = ["Document", "Locator", "Section", "Segment", "Skipped", "load_document", "walk_folder"]

STDIN = "-"
DIFF_SUFFIXES = {".diff", ".patch"}


def load_document(path: str, *, stdin: TextIO | None = None, max_file_bytes: int = FOLDER_FILE_BYTES) -> Document:
    """Read a file, a folder (`max_file_bytes` caps each file in it) or, for "-", `stdin`."""
    if path == STDIN:
        return _load_stdin(stdin if stdin is not None else sys.stdin)
    shown = clean_text(path)  # the name in locators, records and messages; `path` opens the file
    target = Path(path)
    if target.is_dir():
        return load_repo(target, shown, max_file_bytes=max_file_bytes)
    suffix = target.suffix.lower()
    data = _read_bytes(target, shown, file_cap(suffix))
    if not data.strip():
        raise MinimaxError(ErrorCode.EMPTY, "empty file", shown)
    sha256 = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        return load_pdf(data, shown, sha256)
    if suffix == ".epub":
        return load_epub(data, shown, sha256)
    return _load_text(data, shown, sha256, suffix)


def _load_text(data: bytes, path: str, sha256: str, suffix: str = "") -> Document:
    """Text, Markdown, code or a diff, from the bytes of a file or of stdin."""
    decoded = decode(data)
    if decoded.code == ErrorCode.BINARY:
        message = f"binary ({suffix or 'no suffix'}), not a text document: {decoded.reason}"
        raise MinimaxError(ErrorCode.BINARY, message, path)
    if decoded.text is None:
        raise MinimaxError(decoded.code, f"{decoded.reason}: convert it to UTF-8 first", path)
    text = decoded.text
    if not text.strip():
        raise MinimaxError(ErrorCode.EMPTY, "no text, only white space", path)
    if suffix in DIFF_SUFFIXES:
        document = load_diff(text, path, sha256)
        if not document.segments:
            raise MinimaxError(ErrorCode.UNSUPPORTED, "no unified-diff hunks in this diff", path)
        return document
    if looks_like_diff(text):
        return load_diff(text, path, sha256)
    return load_text(text, path, sha256, suffix=suffix)


def _load_stdin(stdin: TextIO | None) -> Document:
    """stdin as bytes (`sys.stdin.buffer`), decoded like a file: under the C locale cron uses,
    Python's own decoding of stdin would hand over surrogates or fail."""
    if stdin is None:
        raise MinimaxError(ErrorCode.EMPTY, "no stdin (it is closed)", STDIN)
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is not None:
            data = read_at_most(buffer, TEXT_FILE_BYTES)
        else:  # a text stream (tests, callers that wrap stdin): back to bytes, decoded below
            data = _encoded(stdin.read(TEXT_FILE_BYTES + 1))
    except UnicodeDecodeError:
        raise MinimaxError(ErrorCode.UNREADABLE, "stdin is not UTF-8 text", STDIN) from None
    except OSError as e:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read stdin: {e.strerror or e}", STDIN) from None
    if data is None or len(data) > TEXT_FILE_BYTES:
        raise MinimaxError(ErrorCode.TOO_LARGE, TooLarge(None, TEXT_FILE_BYTES).describe(), STDIN)
    if not data.strip():
        raise MinimaxError(ErrorCode.EMPTY, "nothing on stdin", STDIN)
    return _load_text(data, STDIN, hashlib.sha256(data).hexdigest())


def _encoded(text: str) -> bytes:
    """The bytes a text stream stands for: surrogate escapes give back their bytes, and any other
    lone surrogate becomes U+FFFD."""
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return clean_text(text).encode("utf-8")


def _read_bytes(target: Path, path: str, cap: int) -> bytes:
    try:
        return read_file(target, cap)
    except TooLarge as e:
        raise MinimaxError(ErrorCode.TOO_LARGE, e.describe(), path) from None
    except OSError as e:
        raise path_error(e, path, "read") from None
