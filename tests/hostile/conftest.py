"""Fixtures for the hostile-input battery: a secret marker, a watch on what is opened, an error
checker. Every input is built here, in tmp_path; nothing is downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode, MinimaxError, printable
from minimax_cli.sources import Document, load_document
from minimax_cli.sources.clean import clean_text, has_surrogates

SECRET = "SECRET-TOKEN-123"

_opened: list[str] | None = None  # paths opened or listed while a `watch` is on


def _audit(event: str, args: tuple) -> None:
    # An audit hook cannot be removed, so it is added once and records only while watched.
    if _opened is not None and event in ("open", "os.listdir", "os.scandir") and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _opened.append(os.fsdecode(target))


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def no_outer_work_tree(tmp_path, monkeypatch):
    """Keep git from finding a work tree above tmp_path."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@pytest.fixture
def watch():
    """`with watch(root): ...` fails when anything outside `root` (once resolved) is opened or
    listed inside the block."""

    class Watch:
        def __init__(self):
            self.root: Path | None = None

        def __call__(self, root: Path):
            self.root = Path(os.path.realpath(root))
            return self

        def __enter__(self):
            global _opened
            _opened = []

        def __exit__(self, *exc):
            global _opened
            opened, _opened = _opened, None
            if exc[0] is None:
                outside = [p for p in opened if _outside(p, self.root)]
                assert not outside, f"read outside {self.root}: {outside}"

    return Watch()


def _outside(path: str, root: Path) -> bool:
    if not os.path.isabs(path):
        return False  # relative opens are the interpreter's own (none come from the sources)
    real = Path(os.path.realpath(path))
    return not real.is_relative_to(root) and real.suffix not in (".py", ".pyc", ".so")


def assert_clean(doc: Document) -> None:
    """No secret and no lone surrogate anywhere a document shows text."""
    shown = [doc.text, doc.path, doc.title or "", *doc.files]
    shown += [s.title for s in doc.sections] + [str(seg.locator) for seg in doc.segments]
    shown += [f"{s.path} {s.reason} {s.detail}" for s in doc.skipped]
    for text in shown:
        assert SECRET not in text
        assert not has_surrogates(text)


@pytest.fixture
def refused():
    """`refused(path, code)`: loading fails with that code and a one-line message naming the file."""

    def check(path: Path | str, code: ErrorCode, **kwargs) -> MinimaxError:
        with pytest.raises(MinimaxError) as info:
            load_document(os.fspath(path), **kwargs)
        error = info.value
        message = str(error)
        assert error.code == code, message
        assert message.count("\n") == 0 and message.isprintable(), message
        assert SECRET not in message and not has_surrogates(message)
        assert error.path == clean_text(os.fspath(path)) and printable(error.path) in message
        return error

    return check


def reasons(doc: Document) -> dict[str, str]:
    return {s.path: s.reason for s in doc.skipped}
