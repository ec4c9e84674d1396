"""Folders: links out of the root, loops, ignored secrets, .git, FIFOs, through `load_document`
and `walk_folder`, outside and inside a git work tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document, repo, walk_folder
from tests.hostile.conftest import SECRET, assert_clean, reasons

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(params=["plain", "git"])
def tree(request, tmp_path) -> Path:
    """A folder with one good file and a secret just outside it, plain or as a git work tree."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "good.txt").write_text("Nothing to hide here.\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"password={SECRET}\n")
    if request.param == "git":
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        git(root, "init", "-q")
    return root


def test_symlink_loops_are_skipped_not_fatal(tree, watch):
    (tree / "a").symlink_to("b")
    (tree / "b").symlink_to("a")
    (tree / "self").symlink_to("self")
    (tree / "sub").mkdir()
    (tree / "sub" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    with watch(tree):
        doc = load_document(str(tree))
    assert doc.files == ["good.txt"]
    assert reasons(doc) == {"a": "link_loop", "b": "link_loop", "self": "link_loop", "sub/up": "link"}
    assert_clean(doc)


def test_links_out_of_the_root_are_skipped(tree, watch):
    outside = tree.parent / "outside"
    (tree / "secret.txt").symlink_to(outside / "secret.txt")
    (tree / "escape").symlink_to(outside, target_is_directory=True)
    (tree / "dotdot.txt").symlink_to("../outside/secret.txt")
    with watch(tree):
        doc = load_document(str(tree))
    assert doc.files == ["good.txt"]
    assert reasons(doc) == {"secret.txt": "link_outside", "escape": "link_outside", "dotdot.txt": "link_outside"}
    assert_clean(doc)


def test_gitignored_secret_is_never_read(tree, watch):
    (tree / ".gitignore").write_text(".env\nprivate/\n")
    (tree / ".env").write_text(f"TOKEN={SECRET}\n")
    (tree / "private").mkdir()
    (tree / "private" / "keys.txt").write_text(f"{SECRET}\n")
    (tree / "alias.txt").symlink_to(".env")  # a link may not reach what the rules keep out
    with watch(tree):
        doc = load_document(str(tree))
    assert doc.files == [".gitignore", "good.txt"]
    assert reasons(doc) == {"alias.txt": "link_ignored"}
    assert_clean(doc)


def test_dot_git_is_never_read(tree, watch):
    (tree / ".git").mkdir(exist_ok=True)
    with open(tree / ".git" / "config", "a") as f:
        f.write(f"# {SECRET}\n")
    (tree / "config").symlink_to(".git/config")
    with watch(tree):
        doc = load_document(str(tree))
    assert doc.files == ["good.txt"] and reasons(doc) == {"config": "link_ignored"}
    assert_clean(doc)


@needs_git
def test_tracked_path_through_a_swapped_folder_link(tmp_path, watch):
    """git lists `sub/notes.txt` from its index; `sub` is now a link out of the tree."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "notes.txt").write_text("harmless\n")
    (root / "good.txt").write_text("fine\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    shutil.rmtree(root / "sub")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text(f"{SECRET}\n")
    (root / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with watch(root):
        doc = load_document(str(root))
    assert doc.files == ["good.txt"]
    assert reasons(doc)["sub/notes.txt"] == "link_outside"
    assert_clean(doc)


def test_fifo_is_skipped_without_blocking(tree):
    os.mkfifo(tree / "pipe")
    doc = load_document(str(tree))
    assert doc.files == ["good.txt"]
    assert reasons(doc) in ({"pipe": "special"}, {})  # git does not even list a FIFO


def test_walk_folder_contract(tree, watch):
    (tree / ".gitignore").write_text("*.log\n")
    (tree / "run.log").write_text(f"{SECRET}\n")
    (tree / "docs").mkdir()
    (tree / "docs" / "guide.md").write_text("# Guide\n")
    (tree / "out").symlink_to(tree.parent / "outside" / "secret.txt")
    (tree / "loop").symlink_to("loop")
    with watch(tree):
        files, skipped = walk_folder(tree)
        everything, skipped_too = walk_folder(tree, no_ignore=True)
    assert files == [".gitignore", "docs/guide.md", "good.txt"]
    assert {s.path: s.reason for s in skipped} == {"loop": "link_loop", "out": "link_outside"}
    assert everything == [".gitignore", "docs/guide.md", "good.txt", "run.log"]  # ignore rules off,
    assert {s.path for s in skipped_too} == {"loop", "out"}  # never the root and link rules


def test_walk_folder_refuses_a_missing_root(tmp_path):
    with pytest.raises(Exception) as info:
        walk_folder(tmp_path / "nope")
    assert info.value.code == ErrorCode.NOT_FOUND


def test_odd_file_names_are_shown_cleanly(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "line\nbreak.txt").write_text("one\n")
    (root / os.fsdecode(b"caf\xe9.txt")).write_text("two\n")
    doc = load_document(str(root))
    assert sorted(doc.files) == ["caf\ufffd.txt", "line\nbreak.txt"]
    assert "one" in doc.text and "two" in doc.text
    assert_clean(doc)


def test_per_file_and_total_caps(tree, monkeypatch, refused):
    (tree / "big.txt").write_text("x" * 5000 + "\n")
    doc = load_document(str(tree), max_file_bytes=1000)
    assert reasons(doc) == {"big.txt": "too_large"}
    monkeypatch.setattr(repo, "DOCUMENT_CHARS", 100)
    error = refused(tree, ErrorCode.TOO_LARGE)
    assert "subfolder" in error.message


def test_nul_late_in_a_folder_file(tree):
    (tree / "late.txt").write_bytes(b"a" * 10240 + b"\0" + b"b" * 10)
    doc = load_document(str(tree))
    [skip] = doc.skipped
    assert (skip.path, skip.reason, skip.detail) == ("late.txt", "binary", "NUL bytes at offset 10240")


def test_the_watch_sees_an_outside_read(tree, watch):
    """The guard the tests above rely on: reading past the root fails the block."""
    with pytest.raises(AssertionError, match="read outside"):
        with watch(tree):
            (tree.parent / "outside" / "secret.txt").read_text()
