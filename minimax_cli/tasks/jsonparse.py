"""Reading JSON out of model replies.

Small models wrap JSON in code fences, add prose before or after it, leave trailing commas, use
Python quoting, or break one object in a list. `find_json` returns the first value a caller accepts
from anywhere in the reply; `flat_objects` recovers the well-formed `{...}` objects one by one when
the list around them does not parse.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)(?:```|$)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings are common
_MAX_STARTS = 64  # candidate start positions tried per text; replies are short


def find_json(text: str, accept: Callable[[Any], bool] = lambda v: isinstance(v, (dict, list))) -> Any:
    """The first JSON value in `text` that `accept` takes, or None."""
    for candidate in _candidates(text):
        for value in _values(candidate):
            if accept(value):
                return value
    return None


def flat_objects(text: str) -> list[tuple[str, dict | None]]:
    """Every `{...}` in `text` that holds no nested object, with its parsed value (None if broken)."""
    found = []
    for start, end in _object_spans(text):
        raw = text[start:end]
        found.append((raw, _parse(raw)))
    return found


def _candidates(text: str) -> Iterator[str]:
    for match in _FENCE.finditer(text):
        yield match.group(1)
    yield text


def _values(text: str) -> Iterator[Any]:
    starts = [i for i, ch in enumerate(text) if ch in "{["][:_MAX_STARTS]
    for start in starts:
        try:
            value, _ = _DECODER.raw_decode(text, start)
            yield value
            continue
        except json.JSONDecodeError:
            pass
        end = _matching_close(text, start)
        if end is not None:
            repaired = _parse(text[start:end])
            if repaired is not None:
                yield repaired


def _parse(raw: str) -> Any:
    """`raw` as JSON, after removing trailing commas, or as a Python literal; None if neither."""
    for attempt in (raw, _TRAILING_COMMA.sub(r"\1", raw)):
        try:
            return _DECODER.decode(attempt)
        except json.JSONDecodeError:
            pass
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (dict, list)) else None


def _matching_close(text: str, start: int) -> int | None:
    """The end (exclusive) of the bracketed value opening at `start`, honouring strings."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _object_spans(text: str) -> list[tuple[int, int]]:
    """Spans of `{...}` objects without nested braces, outside of strings."""
    spans, open_at, quote, escaped = [], None, "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch == '"' and open_at is not None:
            quote = ch
        elif ch == "{":
            open_at = i  # a nested opening restarts: only the innermost objects count
        elif ch == "}" and open_at is not None:
            spans.append((open_at, i + 1))
            open_at = None
    return spans
