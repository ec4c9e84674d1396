"""Folders and repositories: gitignore through git and through pathspec, skips and their reasons."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode
from minimax_cli.sources import load_document

SAMPLE_FILES = [
    "README.md",
    ".gitignore",
    "app/__init__.py",
    "app/api.py",
    "app/auth.py",
    "app/config.py",
    "app/db.py",
    "tests/test_auth.py",
]

def readme_first(rel: str) -> tuple[bool, str]:
    return (rel != "README.md", rel)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def add_clutter(repo: Path) -> None:
    """Files that the sample's .gitignore files exclude, plus a nested .gitignore."""
    (repo / "server.log").write_text("GET /notes 200\n")
    (repo / "build").mkdir()
    (repo / "build" / "notekeeper.py").write_text("# generated\n")
    (repo / "app" / ".gitignore").write_text("local_*.py\n!local_keep.py\n")
    (repo / "app" / "local_settings.py").write_text("SECRET = 'x'\n")
    (repo / "app" / "local_keep.py").write_text("KEEP = True\n")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_sample_repo_in_place(samples):
    doc = load_document(str(samples / "repo"))
    assert doc.kind == "repo" and doc.files == SAMPLE_FILES
    assert [s.title for s in doc.sections] == SAMPLE_FILES
    auth = doc.sections[SAMPLE_FILES.index("app/auth.py")]
    code = "\n".join(s.text for s in doc.segments[auth.start : auth.end])
    assert "pbkdf2_hmac" in code and "def verify_token" in code
    lines = (samples / "repo" / "app" / "auth.py").read_text().split("\n")
    for seg in doc.segments[auth.start : auth.end]:
        assert seg.locator.path == "app/auth.py"
        assert seg.text == "\n".join(lines[seg.locator.start_line - 1 : seg.locator.end_line])


def test_gitignore_through_pathspec(sample_repo):
    add_clutter(sample_repo)
    (sample_repo / ".git").mkdir()  # a bare .git folder is no work tree, but is never read
    (sample_repo / ".git" / "config").write_text("[core]\n")
    doc = load_document(str(sample_repo))
    assert doc.files == sorted(SAMPLE_FILES + ["app/.gitignore", "app/local_keep.py"], key=readme_first)
    assert doc.skipped == []


@needs_git
def test_gitignore_through_git(sample_repo):
    add_clutter(sample_repo)
    git(sample_repo, "init", "-q")
    git(sample_repo, "add", "-f", "server.log")  # tracked despite .gitignore: git lists it
    doc = load_document(str(sample_repo))
    expected = SAMPLE_FILES + ["app/.gitignore", "app/local_keep.py", "server.log"]
    assert doc.files == sorted(expected, key=readme_first)
    assert not any(f.startswith(".git/") for f in doc.files)


@needs_git
def test_git_listing_is_relative_to_a_subfolder(sample_repo):
    git(sample_repo, "init", "-q")
    doc = load_document(str(sample_repo / "app"))
    assert doc.files == ["__init__.py", "api.py", "auth.py", "config.py", "db.py"]


@pytest.mark.parametrize("with_git", [False, True])
def test_binary_large_and_outside_links_are_skipped(sample_repo, tmp_path, with_git):
    if with_git:
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        git(sample_repo, "init", "-q")
    (sample_repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    (sample_repo / "data.csv").write_text("a,b\n" * 5000)
    outside = tmp_path / "secrets.txt"
    outside.write_text("password=hunter2\n")
    (sample_repo / "secrets.txt").symlink_to(outside)
    (sample_repo / "escape").symlink_to(tmp_path, target_is_directory=True)
    (sample_repo / "docs").symlink_to(sample_repo / "app", target_is_directory=True)
    (sample_repo / "auth_link.py").symlink_to(sample_repo / "app" / "auth.py")

    doc = load_document(str(sample_repo), max_file_bytes=10_000)
    reasons = {s.path: s.reason for s in doc.skipped}
    assert reasons == {
        "logo.png": "binary",
        "data.csv": "too_large",
        "secrets.txt": "link_outside",
        "escape": "link_outside",
        "docs": "link",
    }
    assert "auth_link.py" in doc.files  # a link to a file inside the tree is read
    assert "hunter2" not in doc.text
    assert {s["reason"] for s in doc.source_info()["skipped"]} == {"binary", "too_large", "link_outside", "link"}


def test_digest_follows_content_not_location(sample_repo, tmp_path):
    first = load_document(str(sample_repo)).sha256
    again = load_document(str(shutil.copytree(sample_repo, tmp_path / "elsewhere"))).sha256
    (sample_repo / "app" / "db.py").write_text("# changed\n")
    assert first == again != load_document(str(sample_repo)).sha256


def test_empty_folder(tmp_path, load_error):
    folder = tmp_path / "nothing"
    folder.mkdir()
    load_error(folder, ErrorCode.EMPTY)


def test_folder_where_everything_is_skipped(tmp_path, load_error):
    folder = tmp_path / "assets"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\0\1\2")
    (folder / "b.bin").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF")
    (folder / "empty.txt").write_text("")
    error = load_error(folder, ErrorCode.EMPTY)
    assert "3 files were skipped" in error.message and "2 binary" in error.message and "1 empty" in error.message
