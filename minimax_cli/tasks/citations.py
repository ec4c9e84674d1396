"""Checking a quoted citation against its source text, and writing it with a precise locator.

A quote counts when it occurs in the cited segment after both are normalised: Unicode compatibility
forms, case, typographic quotes and dashes, soft hyphens, and runs of whitespace (so a quote may span
a line break or a page's hard wrap). A quote that elides its middle with "..." counts when its pieces
occur in order. The citation then names the page, or the lines that actually hold the quote.

Before a citation is written, `check_citation` reads the document again at the citation's own
locator (the page, or exactly its lines) and finds the quote there, so an off-by-one line range
or a page that does not exist never reaches a record.
"""

from __future__ import annotations

import re
import unicodedata

from minimax_cli.sources.document import Document, Segment

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


def check_citation(doc: Document, citation: dict) -> bool:
    """Whether `doc` has the citation's locator and its quote occurs there."""
    text = located_text(doc, citation)
    return text is not None and find_quote(text, citation.get("quote", "")) is not None


def located_text(doc: Document, citation: dict) -> str | None:
    """The document's text at a citation's locator, or None when the document has no such place."""
    same = [s for s in doc.segments if s.locator.path == citation.get("path")]
    if "page" in citation:
        page = [s for s in same if s.locator.page == citation["page"]]
        if not page or page[0].locator.page_label != citation.get("page_label"):
            return None
        return "\n".join(s.text for s in page)
    if "start_line" in citation:
        return _lines(doc, same, citation["start_line"], citation.get("end_line", citation["start_line"]))
    if "item" in citation:
        return "\n".join(s.text for s in same if s.locator.item == citation["item"]) or None
    return "\n".join(s.text for s in same) or None


def _lines(doc: Document, segments: list[Segment], first: int, last: int) -> str | None:
    """Lines `first..last` of a file, from the segments that hold them; a diff's hunks, whose text
    is not the file's lines, count whole where their range meets `first..last`."""
    if not isinstance(first, int) or not isinstance(last, int) or not 1 <= first <= last:
        return None
    if doc.kind == "diff":
        hunks = [s.text for s in segments if s.locator.start_line <= last and first <= (s.locator.end_line or 0)]
        return "\n".join(hunks) or None
    lines: dict[int, str] = {}
    for segment in segments:
        if segment.locator.start_line is not None:
            for i, line in enumerate(segment.text.split("\n")):
                lines[segment.locator.start_line + i] = line
    if any(n not in lines for n in range(first, last + 1)):
        return None
    return "\n".join(lines[n] for n in range(first, last + 1))
