"""Build samples/book.pdf from samples/book.txt.

    python samples/make_book_pdf.py

The PDF objects are written by hand (Helvetica, plain word wrap, 32 lines to a 6 x 9 in page, each
chapter from a fresh page) so that nothing beyond pypdf is needed; pypdf then adds what a real book
PDF carries: printed page labels (a title page "i", a contents page "ii", then the chapters from
"1"), an outline entry per chapter, and a title. Chapter pages print their label in the footer.
Lines never break after a hyphen: PDF readers (ours included) join words hyphenated across a line
end, and would turn "thirty-one" into "thirtyone".
"""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

from pypdf import PdfReader, PdfWriter

HERE = Path(__file__).parent
PAGE_W, PAGE_H = 432, 648  # a 6 x 9 in trade paperback, in points
MARGIN = 54
LINES_PER_PAGE = 32
LEADING = 16
BODY_SIZE = 11
WRAP = 52  # characters; Helvetica at 11 pt averages ~5.5 pt a character, the text block is 324 pt


def read_book(path: Path) -> tuple[str, list[tuple[str, list[str]]]]:
    """The title and the chapters as (heading, paragraphs), paragraphs unwrapped."""
    blocks = [" ".join(b.split()) for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    title, chapters = blocks[0], []
    for block in blocks[1:]:
        if re.match(r"Chapter \d+:", block):
            chapters.append((block, []))
        else:
            chapters[-1][1].append(block)
    return title, chapters


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_at(x: float, y: float, font: str, size: int, text: str) -> str:
    return f"BT /{font} {size} Tf {x:.1f} {y:.1f} Td ({escape(text)}) Tj ET"


def centred(y: float, font: str, size: int, text: str) -> str:
    width = len(text) * size * 0.5  # rough Helvetica average; good enough to centre a line
    return text_at((PAGE_W - width) / 2, y, font, size, text)


def chapter_pages(heading: str, paragraphs: list[str]) -> list[list[str]]:
    """Lay one chapter out from a fresh page; returns each page's lines ("" is a blank line)."""
    lines = [heading, ""]
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, WRAP, break_on_hyphens=False) + [""]
    while lines and not lines[-1]:
        lines.pop()
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    return [page[1:] if page and not page[0] else page for page in pages]  # no blank first line


def body_page(lines: list[str], label: str, heading: str) -> str:
    ops = []
    y = PAGE_H - MARGIN
    for line in lines:
        if line:
            bold = line == heading
            ops.append(text_at(MARGIN, y, "F2" if bold else "F1", 14 if bold else BODY_SIZE, line))
        y -= LEADING
    ops.append(centred(30, "F1", 10, label))
    return "\n".join(ops)


def build_raw_pdf(contents: list[str]) -> bytes:
    """A minimal PDF 1.4: catalog, page tree, two standard fonts, one content stream a page."""
    n = len(contents)
    page_ids = [5 + 2 * i for i in range(n)]
    objects = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {n} >>",
        3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    }
    for page_id, content in zip(page_ids, contents):
        stream = content.encode("cp1252")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {page_id + 1} 0 R >>"
        )
        objects[page_id + 1] = f"<< /Length {len(stream)} >>\nstream\n{content}\nendstream"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(f"{number} 0 obj\n{objects[number]}\nendobj\n".encode("cp1252"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for number in sorted(objects):
        out.write(f"{offsets[number]:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def build(book: Path, target: Path) -> None:
    title, chapters = read_book(book)
    laid_out = [chapter_pages(heading, paragraphs) for heading, paragraphs in chapters]
    first_pages, number = [], 1  # the printed page number each chapter starts on
    for pages in laid_out:
        first_pages.append(number)
        number += len(pages)

    contents = [
        "\n".join([
            centred(420, "F2", 24, title),
            centred(390, "F1", 11, "An original story written for the minimax samples"),
        ]),
        "\n".join(
            [text_at(MARGIN, PAGE_H - MARGIN, "F2", 18, "Contents")]
            + [
                text_at(MARGIN, PAGE_H - MARGIN - 40 - 24 * i, "F1", 12, f"{heading} . . . . {page}")
                for i, ((heading, _), page) in enumerate(zip(chapters, first_pages))
            ]
        ),
    ]
    for (heading, _), pages, first in zip(chapters, laid_out, first_pages):
        for offset, lines in enumerate(pages):
            contents.append(body_page(lines, str(first + offset), heading))

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(build_raw_pdf(contents))))
    writer.set_page_label(0, 1, style="/r")  # title page i, contents ii
    writer.set_page_label(2, len(contents) - 1, style="/D", start=1)
    for (heading, _), first in zip(chapters, first_pages):
        # page_number is the physical index: the printed page plus two front-matter pages, less one.
        writer.add_outline_item(title=heading, page_number=first + 1)
    writer.add_metadata({"/Title": title, "/Author": "The minimax project"})
    with target.open("wb") as f:
        writer.write(f)


if __name__ == "__main__":
    build(HERE / "book.txt", HERE / "book.pdf")
