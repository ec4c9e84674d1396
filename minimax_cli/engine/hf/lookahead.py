"""Prompt lookup: draft tokens for speculative greedy decoding from the ids seen so far.

Summaries, translations, reviews and answers copy names, numbers and phrases from their source. When
the last few ids (an n-gram, n from `max_ngram` down to `min_ngram`) occurred before, the ids that
followed that earlier occurrence are a cheap guess at what comes next; the model checks the whole
guess in one forward (see `HFEngine`), which on a CPU costs little more than one token's forward,
because decoding is bound by reading the weights, not by arithmetic.

`NgramDrafter` keeps, for each n, the end of the most recent earlier occurrence of every n-gram, so
a draft costs a few dict lookups however long the prompt is. `ngram_draft` is the same thing by
plain search, the reference the tests hold the drafter to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def ngram_draft(ids: Sequence[int], k: int, max_ngram: int = 3, min_ngram: int = 1) -> list[int]:
    """Up to `k` ids that followed the most recent earlier occurrence of the last n ids, for the
    largest n in [min_ngram, max_ngram] that has one; [] when none has."""
    ids = list(ids)
    if k <= 0:
        return []
    for n in range(max_ngram, min_ngram - 1, -1):
        if len(ids) <= n:
            continue
        tail = ids[-n:]
        for start in range(len(ids) - n - 1, -1, -1):  # occurrences ending before the last id
            if ids[start:start + n] == tail:
                return ids[start + n:start + n + k]
    return []


class NgramDrafter:
    """Incremental `ngram_draft`: `extend` with each id as it is emitted, `draft` at any time."""

    def __init__(self, ids: Iterable[int] = (), max_ngram: int = 3, min_ngram: int = 1):
        if not 1 <= min_ngram <= max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got {min_ngram}, {max_ngram}")
        self.max_ngram, self.min_ngram = max_ngram, min_ngram
        self.ids: list[int] = []
        # ends[n][gram] = index just past the most recent occurrence of `gram` that has an id after it
        self._ends: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in range(min_ngram, max_ngram + 1)}
        self.extend(ids)

    def extend(self, ids: Iterable[int]) -> None:
        for token in ids:
            ids_ = self.ids
            end = len(ids_)  # the n-grams ending here now have a follower: `token`
            ids_.append(token)
            for n, ends in self._ends.items():
                if end >= n:
                    ends[tuple(ids_[end - n:end])] = end

    def draft(self, k: int) -> tuple[list[int], int]:
        """(up to `k` proposed ids, n of the n-gram that matched; 0 when none did)."""
        ids = self.ids
        if k <= 0:
            return [], 0
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(ids) <= n:
                continue
            end = self._ends[n].get(tuple(ids[-n:]))
            if end is not None:
                return ids[end:end + k], n
        return [], 0


@dataclass
class DecodeStats:
    """What one decode did: forwards run, draft ids checked, draft ids kept."""

    forwards: int = 0
    drafted: int = 0
    accepted: int = 0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0
