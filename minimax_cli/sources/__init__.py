"""Documents in: `load_document` turns what the user named into a `Document`.

"-" is text on stdin, a folder is a repository, and a file is read by its suffix: .pdf, .epub,
.diff/.patch, and anything else as text (Markdown, prose, code) when it decodes as UTF-8, or as a
diff when it opens like one. Every failure is a `MinimaxError` whose code says why and whose
message is one line naming the file.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TextIO

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.diff import load_diff, looks_like_diff
from minimax_cli.sources.document import Document, Locator, Section, Segment, Skipped
from minimax_cli.sources.epub import load_epub
from minimax_cli.sources.pdf import load_pdf
from minimax_cli.sources.repo import load_repo
from minimax_cli.sources.text import decode_text, load_text, looks_binary

__all__ = ["Document", "Locator", "Section", "Segment", "Skipped", "load_document"]

STDIN = "-"
DIFF_SUFFIXES = {".diff", ".patch"}


def load_document(path: str, *, stdin: TextIO | None = None, max_file_bytes: int = 2_000_000) -> Document:
    """Read a file, a folder (`max_file_bytes` caps each file in it) or, for "-", `stdin`."""
    if path == STDIN:
        return _load_stdin(stdin if stdin is not None else sys.stdin)
    target = Path(path)
    if target.is_dir():
        return load_repo(target, path, max_file_bytes=max_file_bytes)
    data = _read_bytes(target, path)
    if not data.strip():
        raise MinimaxError(ErrorCode.EMPTY, "empty file", path)
    sha256 = hashlib.sha256(data).hexdigest()
    suffix = target.suffix.lower()
    if suffix == ".pdf":
        return load_pdf(data, path, sha256)
    if suffix == ".epub":
        return load_epub(data, path, sha256)
    if looks_binary(data):
        raise MinimaxError(ErrorCode.BINARY, f"binary file ({suffix or 'no suffix'}), not a text document", path)
    text = decode_text(data)
    if text is None:
        raise MinimaxError(ErrorCode.UNREADABLE, "not UTF-8 text: convert it to UTF-8 first", path)
    if suffix in DIFF_SUFFIXES:
        document = load_diff(text, path, sha256)
        if not document.segments:
            raise MinimaxError(ErrorCode.UNSUPPORTED, "no unified-diff hunks in this diff", path)
        return document
    if looks_like_diff(text):
        return load_diff(text, path, sha256)
    return load_text(text, path, sha256, suffix=suffix)


def _load_stdin(stdin: TextIO) -> Document:
    try:
        text = stdin.read()
    except UnicodeDecodeError:
        raise MinimaxError(ErrorCode.UNREADABLE, "stdin is not UTF-8 text", STDIN) from None
    if not text.strip():
        raise MinimaxError(ErrorCode.EMPTY, "nothing on stdin", STDIN)
    sha256 = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
    if looks_like_diff(text):
        return load_diff(text, STDIN, sha256)
    return load_text(text, STDIN, sha256)


def _read_bytes(target: Path, path: str) -> bytes:
    try:
        return target.read_bytes()
    except FileNotFoundError:
        raise MinimaxError(ErrorCode.NOT_FOUND, "no such file or folder", path) from None
    except PermissionError:
        raise MinimaxError(ErrorCode.UNREADABLE, "permission denied", path) from None
    except OSError as e:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read: {e.strerror or e}", path) from None
