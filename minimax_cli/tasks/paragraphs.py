"""A text's paragraphs, numbered, and the text put back together from them.

A paragraph is a block of lines between blank lines. A fenced code block (``` or ~~~) is one
paragraph however many blank lines it holds, and is never translated; neither is a block with no
letters (a rule, a table of numbers). Blank lines between paragraphs are kept exactly, so joining
the paragraphs untouched gives back the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LETTER = re.compile(r"[^\W\d_]")
# Markdown's line markers: headings, quotes, bullets, numbered items (and the indentation before them).
_MARKER = re.compile(r"^\s*(?:(?:#{1,6}|>|[-*+]|\d{1,3}[.)])(?:\s+|$))*")


@dataclass
class Paragraph:
    id: int  # 1-based, in document order
    text: str
    translatable: bool
    before: list[str] = field(default_factory=list)  # the blank lines in front of it


@dataclass
class Paragraphs:
    items: list[Paragraph]
    tail: list[str]  # blank lines after the last paragraph

    def join(self, replacements: dict[int, str]) -> str:
        """The text with paragraph `id` replaced by `replacements[id]` where given."""
        lines: list[str] = []
        for p in self.items:
            lines.extend(p.before)
            lines.append(replacements.get(p.id, p.text))
        lines.extend(self.tail)
        return "\n".join(lines)


def split_paragraphs(text: str) -> Paragraphs:
    items: list[Paragraph] = []
    blank: list[str] = []
    block: list[str] = []
    fence: str | None = None

    def close(code: bool = False) -> None:
        nonlocal block, blank
        if block:
            joined = "\n".join(block)
            translatable = not code and bool(_LETTER.search(joined))
            items.append(Paragraph(len(items) + 1, joined, translatable, blank))
            block, blank = [], []

    for line in text.split("\n"):
        if fence is not None:
            block.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
                close(code=True)
            continue
        opening = _FENCE.match(line)
        if opening:
            close()
            fence = opening.group(1)
            block.append(line)
        elif line.strip():
            block.append(line)
        else:
            close()
            blank.append(line)
    close(code=fence is not None)  # an unclosed fence runs to the end and stays code
    return Paragraphs(items, blank)


def marker(line: str) -> str:
    """The Markdown marker a line starts with ("## ", "- ", "  1. "), or ""."""
    return _MARKER.match(line).group()


def restore_markers(source: str, translation: str) -> str:
    """The translation with the source's line markers, line for line when the line counts agree,
    else on the first line only."""
    src = source.split("\n")
    out = translation.split("\n")
    if len(src) == len(out):
        return "\n".join(marker(s) + o[len(marker(o)) :] for s, o in zip(src, out, strict=True))
    first = marker(src[0])
    if first and marker(out[0]) != first:
        out[0] = first + out[0][len(marker(out[0])) :]
    return "\n".join(out)
