"""Cutting long text into pieces that tokenize exactly like the whole.

Both engines tokenize long message contents (a book, a repository) piece by piece rather than in
one call. A cut just before a space that starts a word is where byte-level BPE pre-tokenizers
(GPT-2 style: Qwen's, MiniMax's) split anyway, so the pieces' ids concatenate to the whole
text's ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

PIECE_CHARS = 1 << 16  # characters per tokenizer call
_WHITESPACE = re.compile(r"\s")


def split_for_tokenizer(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """Cut `text` into pieces of at most `size` characters for separate tokenizer calls: just
    before a space that starts a word; failing that, at any whitespace; failing that, at `size`."""
    start = 0
    while len(text) - start > size:
        end = start + size
        cut = _last_cut(text, start, end) or end
        yield text[start:cut]
        start = cut
    yield text[start:]


def _last_cut(text: str, start: int, end: int) -> int | None:
    """The last index in (start, end) of a space followed by a non-space, else of any whitespace."""
    cut = text.rfind(" ", start + 1, end)
    while cut > start and text[cut + 1].isspace():
        cut = text.rfind(" ", start + 1, cut)
    if cut > start:
        return cut
    spaces = [m.start() for m in _WHITESPACE.finditer(text, start + 1, end)]
    return spaces[-1] if spaces else None
