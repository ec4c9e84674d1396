"""PDF: one segment per page with text, cited by physical page and printed page label.

Text comes from PDFium (pypdfium2): pypdf's own extraction drops the spaces between words on many
real PDFs. pypdf reads what it reads well: encryption, printed page labels, the outline (chapters,
which become sections) and the title. PDFium decides whether a file is readable at all; pypdf
failing on a damaged file only costs the labels and the outline.
"""

from __future__ import annotations

import bisect
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PasswordType, PdfReader

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text
from minimax_cli.sources.document import Document, Locator, Segment, nest_sections
from minimax_cli.sources.limits import DOCUMENT_CHARS

# pypdf logs its repairs of damaged files ("EOF marker not found"); with no handler anywhere those
# would reach stderr through logging's last resort. The CLI configures logging if it wants them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

# PDFium marks a hyphen it found at a line end with U+0002 (U+FFFE from get_text_range) and has
# already joined the two lines; dropping the mark rejoins the word.
PDFIUM_HYPHEN = re.compile("[\x02\ufffe]")
LINE_END_HYPHEN = re.compile(r"([^\W\d_])-\n([^\W\d_])")
UNWANTED = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f\uffff]")  # lone surrogates, controls
TRAILING_SPACE = re.compile(r"[ \t]+\n")
EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class _Structure:
    """What pypdf tells about a PDF beyond its text; empty when pypdf cannot read it."""

    labels: list[str] | None = None  # printed label per page, when the PDF defines labels
    outline: list[tuple[int, int, str]] = field(default_factory=list)  # (page index, level, title)
    title: str | None = None
    pages: int | None = None  # pypdf's page count


def load_pdf(data: bytes, path: str, sha256: str) -> Document:
    structure = _read_structure(data, path)
    texts, has_images = _page_texts(data, path, structure)
    if not any(texts):
        if has_images:
            message = f"no text layer on any of its {len(texts)} pages, only images: needs OCR"
            raise MinimaxError(ErrorCode.NEEDS_OCR, message, path)
        raise MinimaxError(ErrorCode.EMPTY, f"no text on any of its {len(texts)} pages", path)

    segments = []
    for index, text in enumerate(texts):
        if text:  # a blank page has nothing to cite
            label = structure.labels[index] if structure.labels else None
            segments.append(Segment(text, Locator(path, page=index + 1, page_label=label)))
    pages = [s.locator.page for s in segments]
    headings = sorted(
        ((bisect.bisect_left(pages, index + 1), level, title) for index, level, title in structure.outline),
        key=lambda h: h[0],
    )
    return Document(
        path=path,
        kind="pdf",
        segments=segments,
        sha256=sha256,
        sections=nest_sections(headings, len(segments)),
        title=structure.title,
        pages=len(texts),
    )


def clean_page_text(text: str) -> str:
    """Page text fit for a prompt: ligatures unfolded, hyphenation joined, paragraphs kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = PDFIUM_HYPHEN.sub("", text)
    text = UNWANTED.sub("", text)
    text = unicodedata.normalize("NFKC", text)  # "ﬁ" -> "fi", full-width forms -> ASCII
    # Only before a lower-case letter: "Anglo-\nSaxon" keeps its hyphen.
    text = LINE_END_HYPHEN.sub(lambda m: m[1] + m[2] if m[2].islower() else m[0], text)
    text = TRAILING_SPACE.sub("\n", text)
    return EXTRA_BLANK_LINES.sub("\n\n", text).strip()


def _read_structure(data: bytes, path: str) -> _Structure:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception:  # pypdf raises many types on damaged files; PDFium judges those below
        return _Structure()
    if encrypted:
        try:
            needs_password = reader.decrypt("") == PasswordType.NOT_DECRYPTED
        except Exception:  # AES without the `cryptography` package, or a scheme pypdf lacks
            return _Structure()  # PDFium reads those, and reports a password it needs
        if needs_password:
            raise MinimaxError(ErrorCode.ENCRYPTED, "encrypted: needs a password", path)
    try:
        return _Structure(
            labels=[clean_text(x) for x in reader.page_labels] if "/PageLabels" in reader.root_object else None,
            outline=_flatten_outline(reader, reader.outline),
            title=clean_text(reader.metadata and reader.metadata.title or "").strip() or None,
            pages=len(reader.pages),
        )
    except Exception:  # a broken label tree or outline must not cost the text
        return _Structure()


def _flatten_outline(reader: PdfReader, items: list, level: int = 1) -> list[tuple[int, int, str]]:
    """Outline entries as (page index, level, title); pypdf lists children after their parent."""
    entries = []
    for item in items:
        if isinstance(item, list):
            entries += _flatten_outline(reader, item, level + 1)
            continue
        page = reader.get_destination_page_number(item)
        if page is not None and page >= 0 and item.title:
            entries.append((page, level, clean_text(str(item.title)).strip()))
    return entries


def _page_texts(data: bytes, path: str, structure: _Structure) -> tuple[list[str], bool]:
    """The cleaned text of every page, and whether a page without text carries an image."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if e.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise MinimaxError(ErrorCode.ENCRYPTED, "encrypted: needs a password", path) from None
        if structure.pages == 0:  # PDFium refuses a valid file without pages ("Success")
            raise MinimaxError(ErrorCode.EMPTY, "the PDF has no pages", path) from None
        raise MinimaxError(ErrorCode.CORRUPT, f"corrupt PDF: {str(e).rstrip('.')}", path) from None
    try:
        if len(pdf) == 0:
            raise MinimaxError(ErrorCode.EMPTY, "the PDF has no pages", path)
        texts, has_images, chars, index = [], False, 0, 0
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            chars += textpage.count_chars()  # counted before the text is built as a Python string
            if chars > DOCUMENT_CHARS:
                message = f"more than {DOCUMENT_CHARS:,} characters of text by page {index + 1}"
                raise MinimaxError(ErrorCode.TOO_LARGE, message, path)
            text = clean_page_text(textpage.get_text_bounded())
            if not text and not has_images:
                has_images = any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
            texts.append(text)
            textpage.close()
            page.close()
        return texts, has_images
    except pdfium.PdfiumError as e:
        raise MinimaxError(ErrorCode.CORRUPT, f"corrupt PDF: page {index + 1}: {e}", path) from None
    finally:
        pdf.close()
