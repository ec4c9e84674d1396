"""Which files of a folder are read: one rule for repositories and for `minimax batch FOLDER`.

- Listing. Inside a git work tree git lists the files (`git ls-files -co --exclude-standard`:
  tracked files, plus untracked ones that no .gitignore, .git/info/exclude or global exclude
  keeps out). Elsewhere the folder is walked, honouring the .gitignore files at every level with
  pathspec's gitignore rules. `no_ignore` lists every file instead (ripgrep's --no-ignore); it
  never lifts the rules below.
- Nothing under a `.git` folder is ever listed, whoever lists it.
- Only what is inside the root: every listed path is resolved, and one that resolves outside the
  root (through a link anywhere in it) is skipped as `link_outside`. Links to folders are not
  followed (their files are read where they are); a link to a file is kept only when its target
  is itself a listed file, so a link cannot reach an ignored file or .git.
- Only regular files: FIFOs, sockets and devices are skipped (a FIFO would block the read).
- Loops, broken links and unlistable folders are skipped and reported; none fails the walk.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from pathlib import Path

import pathspec

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text
from minimax_cli.sources.document import Skipped
from minimax_cli.sources.limits import GITIGNORE_BYTES

GIT_TIMEOUT_S = 60
GIT_DIR = ".git"
# Set by git hooks and some CI runners; they would make `git ls-files` list another repository.
GIT_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY")


def walk_folder(root: Path, *, no_ignore: bool = False) -> tuple[list[str], list[Skipped]]:
    """The regular files to read under `root`, as sorted relative POSIX paths, and what was
    skipped and why. Paths are as the file system names them (`root / rel` opens the file; an
    undecodable name keeps Python's surrogate escapes), `Skipped.path` is cleaned for display.
    A `root` that is no folder, or cannot be listed, raises `MinimaxError` (not_found, unreadable)."""
    _check_root(root)
    skipped: list[Skipped] = []
    listed = None if no_ignore else _git_files(root)
    if listed is None:
        listed = _walk(root, skipped, honour_gitignore=not no_ignore)
    listed_set = {rel for rel in listed if GIT_DIR not in rel.split("/")}
    real_root = Path(os.path.realpath(root))
    files = []
    for rel in sorted(listed_set):
        problem = _judge(root, rel, real_root, listed_set)
        if problem is None:
            files.append(rel)
        else:
            skipped.append(Skipped(clean_text(rel), *problem))
    return files, sorted(skipped, key=lambda s: s.path)


def path_error(error: OSError, path: str, action: str) -> MinimaxError:
    """The one-line error for `error`, met on `path` (as shown) trying to `action` it."""
    if isinstance(error, FileNotFoundError):
        return MinimaxError(ErrorCode.NOT_FOUND, "no such file or folder", path)
    if isinstance(error, NotADirectoryError):
        return MinimaxError(ErrorCode.NOT_FOUND, "not a folder", path)
    if isinstance(error, PermissionError):
        return MinimaxError(ErrorCode.UNREADABLE, "permission denied", path)
    return MinimaxError(ErrorCode.UNREADABLE, f"cannot {action}: {error.strerror or error}", path)


def _check_root(root: Path) -> None:
    try:
        os.listdir(root)
    except OSError as e:
        raise path_error(e, clean_text(str(root)), "list the folder") from None


def _judge(root: Path, rel: str, real_root: Path, listed: set[str]) -> tuple[str, str] | None:
    """Why the listed path `rel` is not read, as (reason, detail), or None to read it."""
    path = root / rel
    try:
        real = Path(os.path.realpath(path, strict=True))
        mode = os.stat(real).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "link_loop", "a symbolic link loop"
        if e.errno == errno.ENOENT:
            return "missing", "not on disk (deleted since git listed it, or a broken link)"
        return "unreadable", e.strerror or str(e)
    if not real.is_relative_to(real_root):
        return "link_outside", f"a link to {clean_text(str(real))}, outside the folder"
    through_link = real != real_root / rel
    if stat.S_ISDIR(mode):
        if through_link:
            return "link", "a link to a folder inside the tree; its files are read where they are"
        return "submodule", "a nested repository or submodule"
    if not stat.S_ISREG(mode):
        return "special", "not a regular file (a FIFO, socket or device)"
    target = real.relative_to(real_root).as_posix()
    if through_link and target not in listed:
        return "link_ignored", f"a link to {clean_text(target)}, which ignore rules or .git keep out"
    return None


def _git_files(root: Path) -> list[str] | None:
    """Paths relative to `root` as git lists them, or None outside a work tree (or without git)."""
    env = {k: v for k, v in os.environ.items() if k not in GIT_REDIRECTS}
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:
        return None  # not a work tree, or one git refuses (e.g. owned by another user)
    # An untracked nested repository is listed as "name/".
    return [os.fsdecode(p).rstrip("/") for p in listing.stdout.split(b"\0") if p]


def _walk(root: Path, skipped: list[Skipped], *, honour_gitignore: bool) -> list[str]:
    """Paths under `root` that its .gitignore files do not exclude (links to folders included, to
    be judged like files); .git/ never entered, links to folders never followed."""
    files: list[str] = []
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]] = []  # (folder, its rules), outermost first
    for folder, dirnames, filenames in os.walk(root, onerror=lambda e: _unlistable(e, root, skipped)):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        # os.walk goes top-down, so the rules of every enclosing folder are already in `ignores`.
        ignores = [(base, spec) for base, spec in ignores if prefix.startswith(base)]
        if honour_gitignore and (spec := _gitignore(Path(folder))) is not None:
            ignores.append((prefix, spec))

        kept = []
        for name in sorted(dirnames):
            rel = prefix + name
            if name == GIT_DIR or _ignored(rel + "/", ignores):
                continue
            if (Path(folder) / name).is_symlink():
                files.append(rel)
            else:
                kept.append(name)
        dirnames[:] = kept
        files += [prefix + name for name in filenames if not _ignored(prefix + name, ignores)]
    return files


def _gitignore(folder: Path) -> pathspec.GitIgnoreSpec | None:
    """The rules of `folder`/.gitignore when it is a regular file (git, since 2.32, does not
    follow a linked .gitignore either), read up to a sane size."""
    path = folder / ".gitignore"
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb") as f:
            data = f.read(GITIGNORE_BYTES)
    except OSError:
        return None
    lines = clean_text(data.decode("utf-8", errors="replace")).splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


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
    skipped.append(Skipped(clean_text(rel), "unreadable", error.strerror or ""))

