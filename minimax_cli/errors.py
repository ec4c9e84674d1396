"""Errors that reach the user as a one-line message, a per-document error record and an exit code.

A `MinimaxError` carries a stable machine code (`encrypted`, `needs_ocr`, ...) that batch records
and scripts key on, a human message, and the file it concerns when there is one.
"""

from __future__ import annotations

from enum import Enum

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with every character that repr() would escape written as repr writes it (`\\n`,
    `\\x1b`, `\\u202e`, `\\udce9`): controls would split the one-line message or drive the
    terminal, bidi overrides reorder what is shown, lone surrogates (from undecodable file names)
    cannot be written as UTF-8. Other text is left as it is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _SHORT_ESCAPES.get(c) or _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class ErrorCode(str, Enum):
    """Stable codes written into error records; the value is what appears in JSON."""

    NOT_FOUND = "not_found"  # the path does not exist
    UNREADABLE = "unreadable"  # permission denied, I/O error, undecodable text
    EMPTY = "empty"  # no text at all (empty file, empty folder, blank stdin)
    ENCRYPTED = "encrypted"  # PDF with a user password
    CORRUPT = "corrupt"  # PDF/EPUB that fails to parse
    NEEDS_OCR = "needs_ocr"  # PDF whose pages carry images but no text layer
    BINARY = "binary"  # not a text document
    UNSUPPORTED = "unsupported"  # a file type we do not read
    TOO_LARGE = "too_large"  # larger than any plan can handle
    BAD_REQUEST = "bad_request"  # malformed batch request line or options
    MODEL_NOT_FOUND = "model_not_found"  # preset files or checkpoint folder missing
    BAD_CHECKPOINT = "bad_checkpoint"  # checkpoint present but unusable (config, weights)
    MODEL_ERROR = "model_error"  # the engine failed while generating
    OUT_OF_MEMORY = "out_of_memory"  # the engine ran out of device memory on this document


class MinimaxError(Exception):
    """An expected failure with a code; `str()` is the one-line message shown to users."""

    def __init__(self, code: ErrorCode, message: str, path: str | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        where = f"{printable(self.path)}: " if self.path else ""
        return f"{where}{printable(self.message)} ({self.code.value})"

    def to_dict(self) -> dict:
        return {"code": self.code.value, "message": self.message, "path": self.path}
