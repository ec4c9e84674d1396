"""Text, Markdown and code files: line-block segments, headings as sections, decoding."""

from __future__ import annotations

from pathlib import Path

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document
from minimax_cli.sources.text import MAX_BLOCK_CHARS, MAX_BLOCK_LINES


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def assert_segments_are_file_lines(doc, path: Path) -> None:
    lines = file_lines(path)
    for seg in doc.segments:
        loc = seg.locator
        assert seg.text == "\n".join(lines[loc.start_line - 1 : loc.end_line])
        assert lines[loc.start_line - 1].strip() and lines[loc.end_line - 1].strip()


def test_book_has_title_and_four_chapters(samples):
    path = samples / "book.txt"
    doc = load_document(str(path))
    assert doc.kind == "text"
    assert doc.title == "The Keeper of Gannet Point"
    assert [s.title for s in doc.sections] == [
        "Chapter 1: The Arrival",
        "Chapter 2: The Ledger",
        "Chapter 3: The Storm of 1887",
        "Chapter 4: The New Light",
    ]
    lines = file_lines(path)
    for section in doc.sections:
        first = doc.segments[section.start].locator
        assert lines[first.start_line - 1] == section.title
    assert doc.sections[-1].end == len(doc.segments)
    assert_segments_are_file_lines(doc, path)


def test_a_quote_is_found_at_its_locator(samples):
    doc = load_document(str(samples / "book.txt"))
    [seg] = [s for s in doc.segments if "14 November 1887" in s.text]
    chapter = next(s for s in doc.sections if s.start <= doc.segments.index(seg) < s.end)
    assert chapter.title == "Chapter 3: The Storm of 1887"
    assert str(seg.locator).startswith(f"{samples / 'book.txt'}:")


def test_blocks_cut_at_blank_lines_within_limits(tmp_path):
    def paragraph(p: int) -> str:  # 1 to 7 lines of 40 to 90 characters
        return "\n".join(f"paragraph {p} line {i} " + "x" * (20 + p % 50) for i in range(1 + p % 7))

    text = "\n\n".join(paragraph(p) for p in range(200)) + "\n"
    path = tmp_path / "notes.txt"
    path.write_text(text)
    doc = load_document(str(path))
    assert len(doc.segments) > 5
    for seg in doc.segments:
        assert seg.locator.end_line - seg.locator.start_line < MAX_BLOCK_LINES
        assert len(seg.text) <= MAX_BLOCK_CHARS
    assert_segments_are_file_lines(doc, path)
    # Every cut falls on a blank line: the line after a segment is blank.
    lines = file_lines(path)
    assert all(not lines[s.locator.end_line].strip() for s in doc.segments[:-1])


def test_long_paragraph_and_long_line_are_cut(tmp_path):
    path = tmp_path / "main.py"
    body = [f"x{i} = {i}" for i in range(150)] + ["", "y = '" + "z" * 5000 + "'", "w = 1"]
    path.write_text("\n".join(body) + "\n")
    doc = load_document(str(path))
    spans = [(s.locator.start_line, s.locator.end_line) for s in doc.segments]
    assert spans == [(1, 60), (61, 120), (121, 150), (152, 152), (153, 153)]
    assert doc.title is None and doc.sections == []


def test_markdown_headings_outside_code_fences(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Guide\n\nIntro.\n\n## Install\n\n```sh\n# not a heading\npip install x\n```\n"
        "## Use\nRun it.\n\n### Detail\n\nMore.\n"
    )
    doc = load_document(str(path))
    assert doc.kind == "markdown" and doc.title == "Guide"
    assert [(s.title, s.level) for s in doc.sections] == [("Guide", 1), ("Install", 2), ("Use", 2)]
    guide, install, use = doc.sections
    assert (guide.start, guide.end) == (0, len(doc.segments))  # level 1 holds the level-2 sections
    assert install.end == use.start
    assert doc.segments[use.start].text.startswith("## Use")  # a heading starts a segment


def test_chapter_heading_forms_and_levels(tmp_path):
    path = tmp_path / "novel.txt"
    path.write_text(
        "A NOVEL\n\nPart I\n\nCHAPTER III\n\nIt began.\n\nChapter Three: The Wharf\n\n"
        "Later, as noted in\nChapter 3. The wharf was busy\nthat day.\n\nPart Two\n\nChapter 4\n\nEnd.\n"
    )
    doc = load_document(str(path))
    assert [(s.title, s.level) for s in doc.sections] == [
        ("Part I", 1),
        ("CHAPTER III", 2),
        ("Chapter Three: The Wharf", 2),
        ("Part Two", 1),
        ("Chapter 4", 2),
    ]
    part_one = doc.sections[0]
    assert doc.sections[1].start >= part_one.start and doc.sections[2].end == part_one.end
    assert doc.title == "A NOVEL"


def test_crlf_and_bom_are_normalised(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(b"\xef\xbb\xbfTitle\r\n\r\nfirst line\r\nsecond line\r\n")
    doc = load_document(str(path))
    assert [s.text for s in doc.segments] == ["Title\n\nfirst line\nsecond line"]
    assert (doc.segments[0].locator.start_line, doc.segments[0].locator.end_line) == (1, 4)
    assert doc.title == "Title"


def test_a_stray_latin1_byte_is_replaced(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(("plain UTF-8 text " * 20).encode() + b"caf\xe9\n")
    doc = load_document(str(path))
    assert doc.segments[0].text.endswith("caf\ufffd")


def test_text_that_is_not_utf8_is_unreadable(tmp_path, load_error):
    path = tmp_path / "latin1.txt"
    path.write_bytes("été à Noël, élève ".encode("latin-1") * 20)
    load_error(path, ErrorCode.UNREADABLE)
