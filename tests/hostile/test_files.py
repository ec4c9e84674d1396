"""Single files: NUL bytes, encodings, size caps, odd names, empty and 0-page PDFs."""

from __future__ import annotations

import codecs
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfWriter

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document, pdf
from minimax_cli.sources.limits import PDF_FILE_BYTES, TEXT_FILE_BYTES
from tests.hostile.conftest import assert_clean

TEXT = "Chapter 1\n\nThe tide came in over the causeway.\n"


def test_nul_at_10_kib_is_binary(tmp_path, refused):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"a" * 10 * 1024 + b"\0tail\n")
    error = refused(path, ErrorCode.BINARY)
    assert "NUL bytes at offset 10240" in error.message


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8"])
def test_text_with_a_byte_order_mark(tmp_path, codec):
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
           "utf-32-be": codecs.BOM_UTF32_BE, "utf-8": codecs.BOM_UTF8}[codec]
    path = tmp_path / "notes.txt"
    path.write_bytes(bom + TEXT.replace("\n", "\r\n").encode(codec))
    doc = load_document(str(path))
    assert doc.text == TEXT.strip() and [s.title for s in doc.sections] == ["Chapter 1"]


def test_utf16_with_a_nul_character_is_binary(tmp_path, refused):
    path = tmp_path / "notes.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "ab\0cd".encode("utf-16-le"))
    assert "NUL characters" in refused(path, ErrorCode.BINARY).message


def test_undecodable_text_says_what_was_tried(tmp_path, refused):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Ça été très épuisé, où êtes-vous?\n".encode("latin-1") * 3)
    error = refused(path, ErrorCode.UNREADABLE)
    assert "not UTF-8 (or UTF-16/32 with a BOM)" in error.message


def test_bom_that_lies(tmp_path, refused):
    path = tmp_path / "odd.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8" * 50)  # lone surrogates, every one
    assert "UTF-16LE" in refused(path, ErrorCode.UNREADABLE).message


def test_surrogates_never_come_out(tmp_path):
    path = tmp_path / "notes.txt"
    text = ("ok \ud800 then " + "more text here " * 10) * 20
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le", "surrogatepass"))
    assert_clean(load_document(str(path)))


def test_text_over_the_cap_is_refused_before_reading(tmp_path, refused):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(TEXT_FILE_BYTES + 1)  # sparse: no disk, and no read happens
    assert "16 MiB" in refused(path, ErrorCode.TOO_LARGE).message


def test_a_file_whose_size_lies_is_capped_by_the_read(refused):
    assert os.stat("/dev/zero").st_size == 0
    refused("/dev/zero", ErrorCode.TOO_LARGE)


def test_pdf_over_the_cap(tmp_path, refused):
    path = tmp_path / "huge.pdf"
    with open(path, "wb") as f:
        f.truncate(PDF_FILE_BYTES + 1)
    refused(path, ErrorCode.TOO_LARGE)


def test_zero_page_pdf_is_empty(tmp_path, refused):
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    path = tmp_path / "blank.pdf"
    path.write_bytes(buffer.getvalue())
    assert refused(path, ErrorCode.EMPTY).message == "the PDF has no pages"


def test_pdf_text_over_the_cap(samples_pdf, monkeypatch, refused):
    monkeypatch.setattr(pdf, "DOCUMENT_CHARS", 1000)
    assert "by page" in refused(samples_pdf, ErrorCode.TOO_LARGE).message


@pytest.fixture
def samples_pdf() -> Path:
    return Path(__file__).resolve().parents[2] / "samples" / "book.pdf"


@pytest.mark.parametrize("name", ["evil\nname.png", "esc\x1b[31mred.png", "bidi\u202etxt.png", "tab\there.png"])
def test_control_characters_in_a_name_give_one_line(tmp_path, refused, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    error = refused(path, ErrorCode.BINARY)
    assert "\\" in str(error)  # shown escaped, as Python writes it


def test_missing_file_with_a_newline(tmp_path, refused):
    refused(tmp_path / "no\nsuch.txt", ErrorCode.NOT_FOUND)


def test_undecodable_file_name(tmp_path, refused):
    path = os.path.join(os.fsdecode(bytes(tmp_path)), os.fsdecode(b"caf\xe9.png"))
    Path(path).write_bytes(b"\0\1\2")
    error = refused(path, ErrorCode.BINARY)
    assert "caf\ufffd.png" in error.path


def test_undecodable_file_name_of_a_text_file(tmp_path):
    path = os.path.join(os.fsdecode(bytes(tmp_path)), os.fsdecode(b"caf\xe9.txt"))
    Path(path).write_text(TEXT)
    doc = load_document(path)
    assert doc.path.endswith("caf\ufffd.txt")
    assert_clean(doc)
