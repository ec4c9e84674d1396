"""Folders and repositories: every text file that `paths.walk_folder` keeps, one section per file.

Which files are read (gitignore through git or pathspec, nothing outside the folder, no .git, links
only to kept files inside it) is `walk_folder`'s rule, shared with `minimax batch FOLDER`. Binary,
oversized, empty and unreadable files are skipped too; every skip is recorded with its reason in
`Document.skipped`. The text of all files together is capped (`limits.DOCUMENT_CHARS`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text
from minimax_cli.sources.decoding import decode
from minimax_cli.sources.document import Document, Section, Segment, Skipped
from minimax_cli.sources.limits import DOCUMENT_CHARS, FOLDER_FILE_BYTES, TooLarge, read_file
from minimax_cli.sources.paths import walk_folder
from minimax_cli.sources.text import line_blocks, split_lines


def load_repo(root: Path, path: str, *, max_file_bytes: int = FOLDER_FILE_BYTES) -> Document:
    """The text files under `root` (which the user named as `path`), README first, then sorted."""
    try:
        listed, skipped = walk_folder(root)
    except MinimaxError as e:  # name the folder as the user did
        raise MinimaxError(e.code, e.message, path) from None
    files = sorted(listed, key=lambda rel: ("/" in rel or not rel.lower().startswith("readme"), rel))

    segments: list[Segment] = []
    sections: list[Section] = []
    included: list[str] = []
    digests: list[tuple[str, str]] = []
    chars = 0
    for rel in files:
        name = clean_text(rel)  # what locators show; `rel` is what opens the file
        text, digest = _read(root / rel, name, max_file_bytes, skipped)
        if text is None:
            continue
        chars += len(text)
        if chars > DOCUMENT_CHARS:
            message = f"more than {DOCUMENT_CHARS:,} characters of text in its files: name a subfolder, or use batch"
            raise MinimaxError(ErrorCode.TOO_LARGE, message, path)
        blocks = line_blocks(split_lines(text), name)
        sections.append(Section(name, len(segments), len(segments) + len(blocks)))
        segments += blocks
        included.append(name)
        digests.append((name, digest))

    if not included:
        raise MinimaxError(ErrorCode.EMPTY, _nothing_to_read(skipped), path)
    return Document(
        path=path,
        kind="repo",
        segments=segments,
        sha256=_tree_digest(digests),
        sections=sections,
        skipped=sorted(skipped, key=lambda s: s.path),
        title=clean_text(root.resolve().name),
        files=included,
    )


def _read(file: Path, rel: str, max_file_bytes: int, skipped: list[Skipped]) -> tuple[str | None, str]:
    """The text and sha256 of one file `walk_folder` kept, or (None, "") after recording why it
    is skipped."""

    def skip(reason: str, detail: str) -> tuple[None, str]:
        skipped.append(Skipped(rel, reason, detail))
        return None, ""

    try:
        data = read_file(file, max_file_bytes)
    except TooLarge as e:
        return skip("too_large", e.describe())
    except FileNotFoundError:
        return skip("missing", "deleted while the folder was read")
    except OSError as e:
        return skip("unreadable", e.strerror or str(e))
    decoded = decode(data)
    if decoded.text is None:
        return skip(decoded.code.value, decoded.reason)
    if not decoded.text.strip():
        return skip("empty", "no text")
    return decoded.text, hashlib.sha256(data).hexdigest()


def _tree_digest(digests: list[tuple[str, str]]) -> str:
    """sha256 over the sorted (path, file sha256) pairs: equal for equal trees, whatever the order."""
    h = hashlib.sha256()
    for rel, digest in sorted(digests):
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()


def _nothing_to_read(skipped: list[Skipped]) -> str:
    if not skipped:
        return "no files to read: the folder is empty (or everything in it is ignored)"
    reasons = ", ".join(f"{n} {reason}" for reason, n in Counter(s.reason for s in skipped).most_common())
    return f"no text files to read: all {len(skipped)} files were skipped ({reasons})"
