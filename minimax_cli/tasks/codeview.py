"""Code as review shows it to the model: line-numbered files and diff hunks.

Findings are checked against the lines that were shown, so the numbering and the ranges come from
one place. A diff segment is numbered by new-file lines, read from its `@@ -a,b +c,d @@` headers
(or, without headers, from the segment's locator); removed lines carry no number.
"""

from __future__ import annotations

import re

from minimax_cli.sources.document import Segment

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_BLANK_NUMBER = " " * 4


def lines_of(text: str) -> list[str]:
    """The text's lines as the source counted them: split on newlines, no phantom last line."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def first_line(segment: Segment) -> int:
    return segment.locator.start_line or 1


def number_lines(segment: Segment) -> str:
    """The segment's text with each line prefixed by its 1-based line number in its file."""
    start = first_line(segment)
    return "\n".join(f"{start + i:>4} | {line}" for i, line in enumerate(lines_of(segment.text)))


def number_diff(segment: Segment) -> str:
    """A diff segment with new-file line numbers on context and added lines."""
    out = []
    for number, line in _walk_diff(segment):
        out.append(f"{number:>4} | {line}" if number is not None else f"{_BLANK_NUMBER} | {line}")
    return "\n".join(out)


def shown_ranges(segment: Segment, diff: bool) -> list[tuple[int, int]]:
    """The inclusive line ranges of the file that the model saw in this segment."""
    if not diff:
        start = first_line(segment)
        return [(start, start + max(len(lines_of(segment.text)), 1) - 1)]
    numbers = [n for n, _ in _walk_diff(segment) if n is not None]
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


def _walk_diff(segment: Segment):
    """(new-file line number or None, line) for each line of a diff segment."""
    lines = lines_of(segment.text)
    has_headers = any(_HUNK.match(line) for line in lines)
    number: int | None = None if has_headers else first_line(segment)
    for line in lines:
        header = _HUNK.match(line)
        if line.startswith("diff "):
            number = None  # the next file's headers, up to its first hunk
            yield None, line
        elif header:
            number = int(header.group(1))
            yield None, line
        elif number is None or line.startswith(("-", "\\")):
            yield None, line  # file headers before the first hunk, removed lines, "\ No newline"
        else:
            yield number, line
            number += 1
