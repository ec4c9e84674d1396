"""Unified diffs (`git diff`, `diff -u`, `git format-patch`): one segment per hunk.

A hunk's locator is the new file's path and the new-file line range the hunk covers, so a review
finding cites lines of the code as it is after the change (for a deleted file: the old path and
lines). Hunk bodies are read by their line counts, not by looking for the next header, so a
removed line that itself starts with "--- " cannot end a hunk early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from minimax_cli.sources.document import Document, Locator, Section, Segment, Skipped
from minimax_cli.sources.decoding import normalise_newlines

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
GIT_HEADER = re.compile(r"^diff --git (\S+) (\S+)$")
DIFF_STARTS = ("diff ", "--- ", "Index: ", "From ", "commit ")  # first lines diffs and patches open with
DEV_NULL = "/dev/null"


@dataclass
class _FilePatch:
    path: str
    hunks: list[Segment] = field(default_factory=list)
    binary: bool = False


def looks_like_diff(text: str) -> bool:
    """Whether `text` opens like a diff or patch and holds at least one hunk."""
    first = text.lstrip().split("\n", 1)[0]
    return first.startswith(DIFF_STARTS) and any(p.hunks for p in _parse(text))


def load_diff(text: str, path: str, sha256: str) -> Document:
    """A diff document; an empty result (no hunks) is for the caller to refuse."""
    patches = _parse(text)
    segments: list[Segment] = []
    sections: list[Section] = []
    for patch in patches:
        if patch.hunks:
            sections.append(Section(patch.path, len(segments), len(segments) + len(patch.hunks)))
            segments += patch.hunks
    return Document(
        path=path,
        kind="diff",
        segments=segments,
        sha256=sha256,
        sections=sections,
        skipped=[Skipped(p.path, "binary", "binary patch") for p in patches if p.binary],
        files=[p.path for p in patches if p.hunks],
    )


def _parse(text: str) -> list[_FilePatch]:
    lines = normalise_newlines(text).split("\n")
    patches: list[_FilePatch] = []
    new_path = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := GIT_HEADER.match(line):
            # The ---/+++ lines that follow refine this; binary and mode-only changes have none.
            _, new_path = _strip_prefixes(m[1], m[2])
            patches.append(_FilePatch(new_path))
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old_path, new_path = _strip_prefixes(_header_path(line), _header_path(lines[i + 1]))
            path = old_path if new_path == DEV_NULL else new_path
            if not patches or patches[-1].hunks or patches[-1].path != path:
                patches.append(_FilePatch(path))
            i += 2
            continue
        elif line.startswith(("Binary files ", "GIT binary patch")) and patches and not patches[-1].hunks:
            patches[-1].binary = True
        elif (m := HUNK_HEADER.match(line)) and patches:
            i = _read_hunk(lines, i, m, patches[-1], deleted=new_path == DEV_NULL)
            continue
        i += 1
    return patches


def _read_hunk(lines: list[str], i: int, header: re.Match, patch: _FilePatch, *, deleted: bool) -> int:
    """Append the hunk starting at line `i` to `patch`; returns the index after it."""
    old_start, new_start = int(header[1]), int(header[3])
    old_left = int(header[2]) if header[2] is not None else 1
    new_left = int(header[4]) if header[4] is not None else 1
    start, count = (old_start, old_left) if deleted else (new_start, new_left)
    body = [lines[i]]
    i += 1
    while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
        line = lines[i]
        if line.startswith("+"):
            new_left -= 1
        elif line.startswith("-"):
            old_left -= 1
        elif line.startswith(" ") or line == "":  # some tools strip the space of a blank context line
            old_left -= 1
            new_left -= 1
        elif not line.startswith("\\"):  # "\ No newline at end of file"
            break  # a truncated hunk: keep what there is
        body.append(line)
        i += 1
    # A hunk that only deletes covers no new line; cite the line it follows (1 at the top).
    first = max(start, 1)
    last = first + count - 1 if count else first
    patch.hunks.append(Segment("\n".join(body), Locator(patch.path, start_line=first, end_line=last)))
    return i


def _header_path(line: str) -> str:
    """The path of a ---/+++ line, without the timestamp `diff -u` adds after a tab."""
    path = line[4:].split("\t", 1)[0].rstrip()
    return path[1:-1] if len(path) > 1 and path[0] == path[-1] == '"' else path


def _strip_prefixes(old: str, new: str) -> tuple[str, str]:
    """Drop git's a/ and b/ prefixes (only when both sides carry them, or one is /dev/null)."""
    old_git = old.startswith("a/") or old == DEV_NULL
    new_git = new.startswith("b/") or new == DEV_NULL
    if old_git and new_git:
        old = old if old == DEV_NULL else old[2:]
        new = new if new == DEV_NULL else new[2:]
    return old, new
