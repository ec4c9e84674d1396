"""Bytes to text, by one rule for files, folder members, EPUB chapters and stdin.

1. A byte-order mark decides the encoding: UTF-32 (LE/BE), UTF-8, UTF-16 (LE/BE). UTF-32 LE is
   checked before UTF-16 LE, whose mark is its prefix.
2. Without a UTF-16/32 mark, a NUL byte anywhere means binary (git and grep look at the first
   8 KiB only; we look at all of it, since a NUL later would still reach the model). A decoded
   NUL character (U+0000) in UTF-16/32 text means the same.
3. A text that is the encoding but for a few stray bytes (a Latin-1 "é" pasted into UTF-8) is read
   with those as U+FFFD; more than 1% of such characters and it is not text.
4. What comes out has "\\n" newlines and no lone surrogate (`clean_text`).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from minimax_cli.errors import ErrorCode
from minimax_cli.sources.clean import clean_text

MAX_BAD_SHARE = 0.01  # share of undecodable characters still read as text
BOMS = (  # (mark, codec, name for messages); order matters, see the module docstring
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16BE"),
)
NOT_TEXT = "not UTF-8 (or UTF-16/32 with a BOM) text"


@dataclass(frozen=True)
class Decoded:
    """The text, or why there is none: `code` is BINARY or UNREADABLE and `reason` says why."""

    text: str | None
    code: ErrorCode | None = None
    reason: str = ""


def decode(data: bytes) -> Decoded:
    """Decode `data` by the rules above; never raises."""
    codec, name, body = "utf-8", None, data
    for mark, bom_codec, bom_name in BOMS:
        if data.startswith(mark):
            codec, name, body = bom_codec, bom_name, data[len(mark) :]
            break
    wide = codec != "utf-8"
    if not wide and (nul := body.find(b"\0")) >= 0:
        return Decoded(None, ErrorCode.BINARY, f"NUL bytes at offset {nul + len(data) - len(body)}")
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        text = body.decode(codec, errors="replace")
        if text.count("\ufffd") > MAX_BAD_SHARE * len(text):
            what = f"not valid {name} text, though it starts with a {name} byte-order mark" if name else NOT_TEXT
            return Decoded(None, ErrorCode.UNREADABLE, what)
    if wide and (nul := text.find("\0")) >= 0:
        return Decoded(None, ErrorCode.BINARY, f"NUL characters in {name} text, the first at character {nul}")
    return Decoded(normalise_newlines(clean_text(text)))


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
