"""stdin: bytes as cron hands them over (C locale), text streams, caps."""

from __future__ import annotations

import hashlib
import io

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document
from minimax_cli.sources.limits import TEXT_FILE_BYTES
from tests.hostile.conftest import assert_clean

RAW = "Notes\n\nThe caf\u00e9 opened at dawn, and the fishermen came in.\n".encode() * 3 + b"One stray \xe9 byte.\n"


def c_locale_stdin(data: bytes) -> io.TextIOWrapper:
    """stdin as Python sets it up under LC_ALL=C: ASCII with surrogate escapes."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="ascii", errors="surrogateescape")


def test_non_utf8_bytes_are_decoded_like_a_file():
    doc = load_document("-", stdin=c_locale_stdin(RAW))
    assert "caf\u00e9" in doc.text and "stray \ufffd byte" in doc.text
    assert doc.sha256 == hashlib.sha256(RAW).hexdigest()
    assert_clean(doc)


def test_mostly_latin1_stdin_is_refused(refused):
    data = "Ça été très épuisé, où êtes-vous?\n".encode("latin-1") * 3
    assert "not UTF-8" in refused("-", ErrorCode.UNREADABLE, stdin=c_locale_stdin(data)).message


def test_utf16_stdin():
    doc = load_document("-", stdin=c_locale_stdin(b"\xff\xfe" + "wide text\n".encode("utf-16-le")))
    assert doc.text == "wide text"


def test_nul_on_stdin_is_binary(refused):
    refused("-", ErrorCode.BINARY, stdin=c_locale_stdin(b"text\0more\n"))


def test_text_stream_with_surrogates():
    doc = load_document("-", stdin=io.StringIO("escaped \udce9 and lone \ud800 " + "plain words " * 40))
    assert_clean(doc)


def test_stdin_over_the_cap(refused):
    refused("-", ErrorCode.TOO_LARGE, stdin=c_locale_stdin(b"a" * (TEXT_FILE_BYTES + 1)))


