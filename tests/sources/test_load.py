"""load_document: dispatch, stdin, and the errors every kind of path can end in."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode
from minimax_cli import sources
from minimax_cli.sources import load_document


def test_dispatch_by_kind(samples):
    kinds = {name: load_document(str(samples / name)).kind for name in ("book.txt", "book.pdf", "bug.diff", "repo")}
    assert kinds == {"book.txt": "text", "book.pdf": "pdf", "bug.diff": "diff", "repo": "repo"}
    assert load_document(str(samples / "README.md")).kind == "markdown"


def test_sha256_is_of_the_raw_bytes(samples):
    for name in ("book.txt", "book.pdf"):
        expected = hashlib.sha256((samples / name).read_bytes()).hexdigest()
        assert load_document(str(samples / name)).sha256 == expected


def test_stdin_text():
    doc = load_document("-", stdin=io.StringIO("Notes\r\n\r\nChapter 1\r\n\r\nIt rained.\r\n"))
    assert (doc.path, doc.kind, doc.title) == ("-", "text", "Notes")
    assert [s.title for s in doc.sections] == ["Chapter 1"]
    assert str(doc.segments[-1].locator) == "-:3-5"


def test_blank_stdin(load_error):
    load_error("-", ErrorCode.EMPTY, stdin=io.StringIO(" \n\t\n"))


def test_empty_file(tmp_path, load_error):
    for name in ("empty.txt", "empty.pdf"):
        (tmp_path / name).write_bytes(b"")
        load_error(tmp_path / name, ErrorCode.EMPTY)


def test_missing_path(tmp_path, load_error):
    error = load_error(tmp_path / "no-such-book.pdf", ErrorCode.NOT_FOUND)
    assert "no such file" in error.message


def test_binary_file_given_directly(tmp_path, load_error):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(100))
    error = load_error(path, ErrorCode.BINARY)
    assert ".png" in error.message


def test_patch_without_hunks(tmp_path, load_error):
    path = tmp_path / "empty.patch"
    path.write_text("diff --git a/x b/x\nold mode 100644\nnew mode 100755\n")
    load_error(path, ErrorCode.UNSUPPORTED)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path, load_error):
    path = tmp_path / "private.txt"
    path.write_text("secret\n")
    path.chmod(0)
    try:
        load_error(path, ErrorCode.UNREADABLE)
    finally:
        path.chmod(0o600)


def test_permission_denied_is_unreadable(tmp_path, load_error, monkeypatch):
    """The same path as above, reached as root by making the read fail the way it would."""
    path = tmp_path / "private.txt"
    path.write_text("secret\n")

    def denied(target: Path, cap: int) -> bytes:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(sources, "read_file", denied)
    error = load_error(path, ErrorCode.UNREADABLE)
    assert "permission denied" in error.message
