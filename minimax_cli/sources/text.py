"""Text, Markdown and code: blocks of lines with line-range locators, headings as sections.

A segment is a block of whole lines cut at blank lines, at most `MAX_BLOCK_LINES` lines and
`MAX_BLOCK_CHARS` characters (a paragraph longer than that is cut between lines; a single longer
line stands alone). Its text is exactly those lines, so a quote found in a segment is found at its
locator in the file. Sections come from `#`/`##` headings in Markdown and from chapter-like lines
("Chapter 3", "CHAPTER III. THE WHARF", "Part Two") in plain text; text before the first heading
belongs to no section.

Bytes become text in `decoding` (UTF-8, or UTF-16/32 with a BOM; NUL bytes mean binary).
"""

from __future__ import annotations

import re
from collections.abc import Container

from minimax_cli.sources.decoding import normalise_newlines
from minimax_cli.sources.document import Document, Locator, Segment, nest_sections

MAX_BLOCK_LINES = 60
MAX_BLOCK_CHARS = 4000

PROSE_SUFFIXES = {"", ".txt", ".text", ".rst", ".adoc", ".org"}

MARKDOWN_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
    "|sixteen|seventeen|eighteen|nineteen|twenty"
)
CHAPTER_HEADING = re.compile(
    rf"^\s*(?:(chapter|part|book)\s+(?:\d+|{_ROMAN}|{_WORDS})\b|(prologue|epilogue)\b)"
    r"[\s.:\-\u2013\u2014]*(.*)$",
    re.IGNORECASE,
)
MAX_HEADING_CHARS = 80


def split_lines(text: str) -> list[str]:
    """Lines as editors number them: only "\\n" ends a line (not form feeds, unlike splitlines)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def line_blocks(lines: list[str], path: str, breaks: Container[int] = ()) -> list[Segment]:
    """Cut `lines` into segments at blank lines; a line index in `breaks` always starts a segment."""
    pieces = _pieces(lines, breaks)
    segments: list[Segment] = []
    block: tuple[int, int] | None = None  # first and last line index of the open block

    def close() -> None:
        first, last = block
        text = "\n".join(lines[first : last + 1])
        segments.append(Segment(text, Locator(path, start_line=first + 1, end_line=last + 1)))

    for first, last in pieces:
        if block is not None:
            merged = "\n".join(lines[block[0] : last + 1])
            fits = last - block[0] + 1 <= MAX_BLOCK_LINES and len(merged) <= MAX_BLOCK_CHARS
            if first not in breaks and fits:
                block = (block[0], last)
                continue
            close()
        block = (first, last)
    if block is not None:
        close()
    return segments


def _pieces(lines: list[str], breaks: Container[int]) -> list[tuple[int, int]]:
    """Paragraphs (runs of non-blank lines) as (first, last) indices, over-long ones cut up."""
    pieces: list[tuple[int, int]] = []
    first = None
    chars = 0
    for i, line in enumerate(lines):
        blank = not line.strip()
        if first is not None:
            full = i - first >= MAX_BLOCK_LINES or chars + len(line) + 1 > MAX_BLOCK_CHARS
            if blank or i in breaks or full:
                pieces.append((first, i - 1))
                first = None
        if not blank and first is None:
            first, chars = i, 0
        if first is not None:
            chars += len(line) + 1
    if first is not None:
        pieces.append((first, len(lines) - 1))
    return pieces


def markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """`#` and `##` headings outside fenced code, as (line index, level, title)."""
    headings = []
    in_fence = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := MARKDOWN_HEADING.match(line)):
            headings.append((i, len(m[1]), m[2]))
    return headings


def chapter_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """Chapter-like lines standing alone between blank lines, as (line index, level, title).

    Standing alone keeps out a wrapped sentence that happens to start "Chapter 3. ..." and a table
    of contents. Parts and books are level 1; chapters are level 2 when the text has parts.
    """
    found = []
    for i, line in enumerate(lines):
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip())
        if alone and len(line.strip()) <= MAX_HEADING_CHARS and (m := CHAPTER_HEADING.match(line)):
            is_part = (m[1] or "").lower() in ("part", "book")
            found.append((i, is_part, line.strip()))
    has_parts = any(is_part for _, is_part, _ in found)
    return [(i, 1 if is_part or not has_parts else 2, title) for i, is_part, title in found]


def prose_title(lines: list[str]) -> str | None:
    """The first line, when it reads as a title: short, alone, not a sentence, not a chapter."""
    for i, line in enumerate(lines):
        if not re.search(r"\w", line):
            continue  # blank, or a reST over- or underline
        title = line.strip()
        alone = i + 1 == len(lines) or not re.search(r"\w", lines[i + 1])
        if alone and len(title) <= MAX_HEADING_CHARS and not title.endswith((".", ",", ";", ":")):
            return None if CHAPTER_HEADING.match(title) else title
        return None
    return None


def load_text(text: str, path: str, sha256: str, *, suffix: str = "") -> Document:
    """A text document; `suffix` (".md", ".py", ...) picks Markdown headings or prose titles."""
    lines = split_lines(normalise_newlines(text))
    markdown = suffix in (".md", ".markdown")
    headings = markdown_headings(lines) if markdown else chapter_headings(lines)
    segments = line_blocks(lines, path, {i for i, _, _ in headings})
    first_segment = {seg.locator.start_line - 1: n for n, seg in enumerate(segments)}
    starts = [(first_segment[i], level, title) for i, level, title in headings]
    sections = nest_sections(starts, len(segments))
    if markdown:
        title = next((t for _, level, t in headings if level == 1), None)
    else:
        title = prose_title(lines) if suffix in PROSE_SUFFIXES else None
    return Document(
        path=path,
        kind="markdown" if markdown else "text",
        segments=segments,
        sha256=sha256,
        sections=sections,
        title=title,
    )
