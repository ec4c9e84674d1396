"""The changes of a git work tree against a revision (`git diff REV`), as a diff document.

`REV` is anything `git diff` takes: a branch, `HEAD~1`, a commit, `main...HEAD`. The hunks'
paths are relative to the repository's top level, and their line numbers are those of the files
in the work tree, so findings point at the code as it is now. External diff drivers, colour and
rename detection settings of the user's config are turned off: the output must parse the same
everywhere.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.diff import load_diff
from minimax_cli.sources.document import Document

GIT_TIMEOUT_S = 120


def load_git_diff(path: str, rev: str) -> Document:
    """The diff of the work tree holding `path` against `rev`, limited to `path` when it is a
    file or a subfolder."""
    if rev.startswith("-"):  # git would read it as an option
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"not a revision: {rev}", path)
    target = Path(path)
    if not target.exists():
        raise MinimaxError(ErrorCode.NOT_FOUND, "no such file or folder", path)
    folder = target if target.is_dir() else target.parent
    top = Path(_git(folder, ["rev-parse", "--show-toplevel"], path).strip()).resolve()
    here = target.resolve()
    limit = "." if here == top else str(here.relative_to(top))
    text = _git(
        top,
        ["diff", "--no-color", "--no-ext-diff", "--no-renames", "--unified=3", rev, "--", limit],
        path,
    )
    if not text.strip():
        raise MinimaxError(ErrorCode.EMPTY, f"no changes against {rev}", path)
    document = load_diff(text, path, hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest())
    if not document.segments:
        raise MinimaxError(ErrorCode.EMPTY, f"no text changes against {rev} (only binary or mode changes)", path)
    document.title = f"changes against {rev}"
    return document


def _git(folder: Path, args: list[str], path: str) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=GIT_TIMEOUT_S,
        )
    except FileNotFoundError:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--diff needs git, and git is not installed", path) from None
    except subprocess.TimeoutExpired:
        raise MinimaxError(ErrorCode.UNREADABLE, f"git {args[0]} took longer than {GIT_TIMEOUT_S} s", path) from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"git {args[0]} failed"
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"git: {reason.removeprefix('fatal: ')}", path)
    return proc.stdout
