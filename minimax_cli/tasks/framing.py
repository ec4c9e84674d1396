"""How each task shows one segment to the model.

Planning counts the tokens of exactly these strings, so a plan's budget matches the prompts the
tasks build. `number` is the excerpt number ask's citations refer to; other tasks ignore it.
"""

from __future__ import annotations

from collections.abc import Callable

from minimax_cli.sources.document import Document, Segment
from minimax_cli.tasks.codeview import number_diff, number_lines

Frame = Callable[[Document, Segment, int], str]

# Segments are joined with a blank line; plans count it as this many tokens per segment.
SEPARATOR = "\n\n"
SEPARATOR_TOKENS = 1


def frame_summarize(doc: Document, segment: Segment, number: int) -> str:
    # Files of a repository or a diff need their names; pages and paragraphs read as running text.
    if doc.kind in ("repo", "diff"):
        return f"### {segment.locator}\n{segment.text}"
    return segment.text


def frame_ask(doc: Document, segment: Segment, number: int) -> str:
    return f"[{number}] {segment.locator}\n{segment.text}"


def frame_review(doc: Document, segment: Segment, number: int) -> str:
    body = number_diff(segment) if doc.kind == "diff" else number_lines(segment)
    return f"### {segment.locator.path}\n{body}"


def frame_text(doc: Document, segment: Segment, number: int) -> str:
    return segment.text


FRAMES: dict[str, Frame] = {
    "summarize": frame_summarize,
    "ask": frame_ask,
    "review": frame_review,
    "translate": frame_text,
}


def render(doc: Document, segments: list[Segment], task: str, first_number: int = 1) -> str:
    """The segments as `task` shows them, numbered from `first_number`, joined by blank lines."""
    frame = FRAMES[task]
    return SEPARATOR.join(frame(doc, s, first_number + i) for i, s in enumerate(segments))
