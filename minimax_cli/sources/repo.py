"""Folders and repositories: every text file that git would see, one section per file.

Inside a git work tree the file list is git's own (`git ls-files -co --exclude-standard`: tracked
files plus untracked ones no .gitignore excludes, nested .gitignore files and the user's global
excludes included). Elsewhere the folder is walked, honouring .gitignore files at every level with
pathspec's gitignore rules, and .git/ is always left out. Links are read only when they point at a
file inside the folder. Binary, oversized, empty and unreadable files are skipped, each with its
reason recorded in `Document.skipped`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import Counter
from pathlib import Path

import pathspec

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.document import Document, Section, Segment, Skipped
from minimax_cli.sources.text import decode_text, line_blocks, looks_binary, split_lines

GIT_TIMEOUT_S = 60


def load_repo(root: Path, path: str, *, max_file_bytes: int) -> Document:
    """The text files under `root` (which the user named as `path`), README first, then sorted."""
    try:
        os.listdir(root)
    except OSError as e:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot list the folder: {e.strerror}", path) from None
    skipped: list[Skipped] = []
    listed = _git_files(root)
    if listed is None:
        listed = _walk(root, skipped)
    files = sorted(set(listed), key=lambda rel: ("/" in rel or not rel.lower().startswith("readme"), rel))

    real_root = root.resolve()
    segments: list[Segment] = []
    sections: list[Section] = []
    included: list[str] = []
    digests: list[tuple[str, str]] = []
    for rel in files:
        text, digest = _read(root / rel, rel, real_root, max_file_bytes, skipped)
        if text is None:
            continue
        blocks = line_blocks(split_lines(text), rel)
        sections.append(Section(rel, len(segments), len(segments) + len(blocks)))
        segments += blocks
        included.append(rel)
        digests.append((rel, digest))

    if not included:
        raise MinimaxError(ErrorCode.EMPTY, _nothing_to_read(skipped), path)
    return Document(
        path=path,
        kind="repo",
        segments=segments,
        sha256=_tree_digest(digests),
        sections=sections,
        skipped=skipped,
        title=real_root.name,
        files=included,
    )


def _git_files(root: Path) -> list[str] | None:
    """Paths relative to `root` as git lists them, or None outside a work tree (or without git)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:
        return None  # not a work tree, or one git refuses (e.g. owned by another user)
    return [os.fsdecode(p) for p in listing.stdout.split(b"\0") if p]


def _walk(root: Path, skipped: list[Skipped]) -> list[str]:
    """Files under `root` that its .gitignore files do not exclude; .git/ never included."""
    files: list[str] = []
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]] = []  # (folder, its rules), outermost first
    for folder, dirnames, filenames in os.walk(root, onerror=lambda e: _unlistable(e, root, skipped)):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        # os.walk goes top-down, so the rules of every enclosing folder are already in `ignores`.
        ignores = [(base, spec) for base, spec in ignores if prefix.startswith(base)]
        gitignore = Path(folder) / ".gitignore"
        if gitignore.is_file():
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            ignores.append((prefix, pathspec.GitIgnoreSpec.from_lines(lines)))

        kept = []
        for name in sorted(dirnames):
            rel = prefix + name
            if name == ".git" or _ignored(rel + "/", ignores):
                continue
            if (Path(folder) / name).is_symlink():
                files.append(rel)  # judged like any file: followed only to a file inside the tree
            else:
                kept.append(name)
        dirnames[:] = kept
        files += [prefix + name for name in filenames if name != ".git" and not _ignored(prefix + name, ignores)]
    return files


def _ignored(rel: str, ignores: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """Git's rule: the last matching pattern decides, deeper .gitignore files coming later."""
    verdict = False
    for base, spec in ignores:
        result = spec.check_file(rel[len(base) :])
        if result.include is not None:
            verdict = result.include
    return verdict


def _unlistable(error: OSError, root: Path, skipped: list[Skipped]) -> None:
    rel = Path(error.filename).relative_to(root).as_posix()
    skipped.append(Skipped(rel, "unreadable", error.strerror or ""))


def _read(
    file: Path, rel: str, real_root: Path, max_file_bytes: int, skipped: list[Skipped]
) -> tuple[str | None, str]:
    """The text and sha256 of one listed file, or (None, "") after recording why it is skipped."""

    def skip(reason: str, detail: str) -> tuple[None, str]:
        skipped.append(Skipped(rel, reason, detail))
        return None, ""

    if file.is_symlink():
        target = file.resolve()
        if not target.is_relative_to(real_root):
            return skip("link_outside", f"a link to {target}, outside the folder")
        if target.is_dir():
            return skip("link", "a link to a folder inside the tree; its files are read where they are")
    if file.is_dir():
        return skip("submodule", "a nested repository or submodule")
    try:
        size = file.stat().st_size
        if size > max_file_bytes:
            return skip("too_large", f"{size} bytes, over the {max_file_bytes}-byte limit")
        data = file.read_bytes()
    except FileNotFoundError:
        return skip("missing", "listed by git but not on disk (deleted, or a broken link)")
    except OSError as e:
        return skip("unreadable", e.strerror or str(e))
    if not data.strip():
        return skip("empty", "no text")
    if looks_binary(data):
        return skip("binary", "NUL bytes in the first 8 KiB")
    text = decode_text(data)
    if text is None:
        return skip("binary", "not UTF-8 text")
    return text, hashlib.sha256(data).hexdigest()


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
