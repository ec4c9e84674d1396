"""BM25 ranking of segments against a question, for documents too large to send whole.

Terms are lower-cased words; identifiers also count by their parts (`getUserName` -> getusername,
get, user, name; `max_retries` -> max_retries, max, retries), so a question in plain words finds
code. A segment's file path counts `PATH_WEIGHT` times, so "where is auth handled?" finds
`app/auth.py`, and the names it defines (functions, classes, types, constants) count
`SYMBOL_WEIGHT` times, so "where is the session token verified?" finds `def verify_token` rather
than every line that calls it.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from minimax_cli.sources.document import Segment

K1 = 1.5
B = 0.75
PATH_WEIGHT = 3
SYMBOL_WEIGHT = 3

_WORD = re.compile(r"\w+")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Definitions in the common languages: Python, JS/TS, Go, Rust, C-family types, constants.
_DEFINITION = re.compile(
    r"^[ \t]*(?:export\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function|func(?:\s*\([^)]*\))?|fn|struct|enum|interface|trait|type|impl|const|let|var)"
    r"\s+([A-Za-z_][A-Za-z0-9_]*)|^([A-Z][A-Z0-9_]{2,})\s*=",
    re.MULTILINE,
)
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i if in is it its of on or that the "
    "this to was were what when where which who why will with".split()
)


def terms(text: str) -> list[str]:
    """Index terms: lower-cased words, plus the parts of camelCase and snake_case identifiers."""
    out = []
    for word in _WORD.findall(text):
        out.append(word.lower())
        parts = _PART.findall(word) if word.isascii() else []
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
    return out


def query_terms(question: str) -> list[str]:
    return [t for t in terms(question) if t not in _STOP]


def symbols(text: str) -> list[str]:
    """The names `text` defines: functions, classes, types, constants."""
    return [a or b for a, b in _DEFINITION.findall(text)]


def segment_terms(segment: Segment) -> list[str]:
    defined = terms(" ".join(symbols(segment.text)))
    return terms(segment.text) + terms(segment.locator.path) * PATH_WEIGHT + defined * SYMBOL_WEIGHT


class BM25:
    """Okapi BM25 over a fixed list of segments, queried once per question."""

    def __init__(self, segments: list[Segment]):
        self.counts = [Counter(segment_terms(s)) for s in segments]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.avg_length = (sum(self.lengths) / len(self.lengths) if self.lengths else 0.0) or 1.0
        self.frequency = Counter(t for c in self.counts for t in c)

    def scores(self, question: str) -> list[float]:
        n = len(self.counts)
        weights = {
            t: math.log(1 + (n - self.frequency[t] + 0.5) / (self.frequency[t] + 0.5))
            for t in set(query_terms(question))
            if self.frequency[t]
        }
        scores = []
        for tf, length in zip(self.counts, self.lengths, strict=True):
            norm = K1 * (1 - B + B * length / self.avg_length)
            scores.append(sum(idf * tf[t] * (K1 + 1) / (tf[t] + norm) for t, idf in weights.items() if t in tf))
        return scores

    def rank(self, question: str) -> list[int]:
        """Segment indices, most relevant first; ties keep document order."""
        scores = self.scores(question)
        return sorted(range(len(scores)), key=lambda i: -scores[i])
