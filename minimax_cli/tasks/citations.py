"""Checking a quoted citation against its source text, and writing it with a precise locator.

A quote counts when it occurs in the cited segment after both are normalised: Unicode compatibility
forms, case, typographic quotes and dashes, soft hyphens, and runs of whitespace (so a quote may span
a line break or a page's hard wrap). A quote that elides its middle with "..." counts when its pieces
occur in order. The citation then names the page, or the lines that actually hold the quote.
"""

from __future__ import annotations

import re
import unicodedata

from minimax_cli.sources.document import Segment

MIN_QUOTE_CHARS = 3  # shorter quotes ("a", "42") match almost anywhere and prove nothing

# Typographic quotes, primes and dashes compare as their ASCII forms.
_SAME = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-")
)
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
_WRAPPING = "\"' .…"  # what models put around a quote: quotation marks, leading/trailing ellipses


def normalise(text: str) -> tuple[str, list[int]]:
    """The comparable form of `text`, and for each of its characters the index it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch == "\u00ad":  # soft hyphen
            continue
        if ch.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                origin.append(i)
            continue
        for out in unicodedata.normalize("NFKC", ch).casefold().translate(_SAME):
            chars.append(out)
            origin.append(i)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """The `[start, end)` characters of `text` that `quote` matches, or None."""
    haystack, origin = normalise(text)
    pieces = [normalise(p)[0] for p in _ELLIPSIS.split(quote.strip().strip(_WRAPPING))]
    pieces = [p for p in pieces if p]
    if not pieces or sum(len(p) for p in pieces) < MIN_QUOTE_CHARS:
        return None
    start = end = None
    pos = 0
    for piece in pieces:
        at = haystack.find(piece, pos)
        if at < 0:
            return None
        start = at if start is None else start
        end = at + len(piece)
        pos = end
    return origin[start], origin[end - 1] + 1


def cite(segment: Segment, quote: str) -> dict | None:
    """The citation of `quote` in `segment`, or None when the quote is not there.

    PDF pages give `{path, page, page_label, quote}`; text and code give `{path, start_line,
    end_line, quote}` narrowed to the lines holding the quote; EPUB items give `{path, item, quote}`.
    The quote written is the source's own text, whitespace collapsed.
    """
    span = find_quote(segment.text, quote)
    if span is None:
        return None
    start, end = span
    text = segment.text
    exact = " ".join(text[start:end].split())
    loc = segment.locator
    if loc.page is not None:
        return {"path": loc.path, "page": loc.page, "page_label": loc.page_label, "quote": exact}
    if loc.start_line is not None:
        return {
            "path": loc.path,
            "start_line": loc.start_line + text.count("\n", 0, start),
            "end_line": loc.start_line + text.count("\n", 0, end - 1),
            "quote": exact,
        }
    if loc.item is not None:
        return {"path": loc.path, "item": loc.item, "quote": exact}
    return {"path": loc.path, "quote": exact}
