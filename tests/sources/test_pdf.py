"""PDF: text per page from PDFium, labels and outline from pypdf, and the ways a PDF fails."""

from __future__ import annotations

import pytest
from pypdf import PdfReader, PdfWriter

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document
from minimax_cli.sources import pdf
from minimax_cli.sources.pdf import clean_page_text
from tests.sources.builders import build_pdf, image_xobject


@pytest.fixture(scope="module")
def book(samples):
    return load_document(str(samples / "book.pdf"))


def test_pages_and_labels(book):
    assert book.kind == "pdf" and book.pages == 8
    assert book.title == "The Keeper of Gannet Point"
    assert [s.locator.page for s in book.segments] == list(range(1, 9))
    assert [s.locator.page_label for s in book.segments] == ["i", "ii", "1", "2", "3", "4", "5", "6"]


def test_outline_chapters_start_on_their_pages(book):
    chapters = [(s.title, book.segments[s.start].locator.page, s.end - s.start) for s in book.sections]
    assert chapters == [
        ("Chapter 1: The Arrival", 3, 1),
        ("Chapter 2: The Ledger", 4, 2),
        ("Chapter 3: The Storm of 1887", 6, 2),
        ("Chapter 4: The New Light", 8, 1),
    ]
    for section in book.sections:
        assert book.segments[section.start].text.startswith(section.title)


def test_a_known_sentence_is_on_its_page_with_spaces(book):
    sentence = "The great storm reached Harrowby on the night of 14 November 1887."
    [page] = [s for s in book.segments if sentence in " ".join(s.text.split())]
    assert (page.locator.page, page.locator.page_label) == (6, "4")
    assert "In the spring of 1884, Marta Kessler came to the\nfishing town" in book.segments[2].text


def test_owner_password_only_is_readable(samples, tmp_path):
    writer = PdfWriter(clone_from=PdfReader(samples / "book.pdf"))
    writer.encrypt(user_password="", owner_password="owner")
    path = tmp_path / "restricted.pdf"
    writer.write(path)
    doc = load_document(str(path))
    assert doc.pages == 8 and doc.segments[2].locator.page_label == "1"


def test_encrypted_pdf_needs_a_password(samples, tmp_path, load_error):
    writer = PdfWriter(clone_from=PdfReader(samples / "book.pdf"))
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    error = load_error(path, ErrorCode.ENCRYPTED)
    assert "password" in error.message


def test_pdfium_reports_a_password_pypdf_could_not_check(samples, tmp_path, load_error, monkeypatch):
    """As for AES files when the `cryptography` package is missing: pypdf gives up, PDFium decides."""
    writer = PdfWriter(clone_from=PdfReader(samples / "book.pdf"))
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    monkeypatch.setattr(pdf, "_read_structure", lambda data, path: pdf._Structure())
    load_error(path, ErrorCode.ENCRYPTED)


def test_garbage_after_a_pdf_header_is_corrupt(tmp_path, load_error):
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    load_error(path, ErrorCode.CORRUPT)


def test_truncated_pdf_is_corrupt(samples, tmp_path, load_error):
    path = tmp_path / "truncated.pdf"
    data = (samples / "book.pdf").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    load_error(path, ErrorCode.CORRUPT)


def test_image_only_pdf_needs_ocr(tmp_path, load_error):
    path = tmp_path / "scan.pdf"
    draw = b"q 200 0 0 200 0 0 cm /Im1 Do Q"
    path.write_bytes(build_pdf([draw, draw], b"<< /XObject << /Im1 3 0 R >> >>", [image_xobject()]))
    error = load_error(path, ErrorCode.NEEDS_OCR)
    assert "OCR" in error.message


def test_pdf_of_blank_pages_is_empty(tmp_path, load_error):
    path = tmp_path / "blank.pdf"
    path.write_bytes(build_pdf([b"", b"0 0 m 100 100 l S"]))
    load_error(path, ErrorCode.EMPTY)


def test_blank_pages_give_no_segment_and_no_labels_without_a_label_tree(tmp_path):
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    text = b"BT /F1 12 Tf 20 100 Td (Hello there, world) Tj ET"
    path = tmp_path / "sparse.pdf"
    path.write_bytes(build_pdf([text, b"", text], font))
    doc = load_document(str(path))
    assert doc.pages == 3
    assert [(s.locator.page, s.locator.page_label) for s in doc.segments] == [(1, None), (3, None)]
    assert doc.segments[0].text == "Hello there, world" and doc.sections == []


def test_clean_page_text():
    assert clean_page_text("the \ufb01rst \ufb02oor") == "the first floor"  # ligatures
    assert clean_page_text("a hyphen-\nated word") == "a hyphenated word"
    assert clean_page_text("Anglo-\nSaxon") == "Anglo-\nSaxon"  # a capital after the break: a real hyphen
    assert clean_page_text("PDFium's hyphen\x02ated mark") == "PDFium's hyphenated mark"
    assert clean_page_text("lone \ud800surrogate\x00") == "lone surrogate"
    assert clean_page_text("para one  \r\n\r\n\r\n\r\npara two\r\n") == "para one\n\npara two"
