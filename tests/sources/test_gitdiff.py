import subprocess

import pytest

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.gitdiff import load_git_diff


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    tmp_path = tmp_path / "work"  # below the ceiling conftest sets at tmp_path
    tmp_path.mkdir()
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "stats.py").write_text("".join(f"line {i}\n" for i in range(1, 31)))
    (tmp_path / "notes.txt").write_text("unchanged\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_changes_against_a_revision_are_hunks_of_the_work_tree(repo):
    lines = (repo / "app" / "stats.py").read_text().splitlines()
    lines[19] = "line 20 changed"
    lines.insert(2, "inserted")
    (repo / "app" / "stats.py").write_text("\n".join(lines) + "\n")
    doc = load_git_diff(str(repo), "HEAD")
    assert doc.kind == "diff" and doc.files == ["app/stats.py"]
    assert [(s.locator.path, s.locator.start_line) for s in doc.segments] == [("app/stats.py", 1), ("app/stats.py", 18)]
    assert "+line 20 changed" in doc.segments[1].text and doc.title == "changes against HEAD"


def test_a_subfolder_limits_the_diff(repo):
    (repo / "app" / "stats.py").write_text("changed\n")
    (repo / "notes.txt").write_text("changed too\n")
    assert load_git_diff(str(repo / "app"), "HEAD").files == ["app/stats.py"]
    assert sorted(load_git_diff(str(repo), "HEAD").files) == ["app/stats.py", "notes.txt"]


@pytest.mark.parametrize(
    "where, rev, code",
    [
        ("repo", "HEAD", ErrorCode.EMPTY),  # nothing changed
        ("repo", "no-such-branch", ErrorCode.BAD_REQUEST),
        ("repo", "--output=/tmp/x", ErrorCode.BAD_REQUEST),
        ("outside", "HEAD", ErrorCode.BAD_REQUEST),  # not a git work tree
        ("missing", "HEAD", ErrorCode.NOT_FOUND),
    ],
)
def test_errors_say_why(repo, tmp_path_factory, where, rev, code):
    path = {"repo": repo, "outside": tmp_path_factory.mktemp("plain"), "missing": repo / "nope"}[where]
    with pytest.raises(MinimaxError) as err:
        load_git_diff(str(path), rev)
    assert err.value.code is code
