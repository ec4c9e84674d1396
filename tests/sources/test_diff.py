"""Unified diffs: one segment per hunk, located at the new file's lines."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from minimax_cli.sources import load_document

GIT_STYLE = """\
diff --git a/notes.txt b/notes.txt
new file mode 100644
--- /dev/null
+++ b/notes.txt
@@ -0,0 +1,2 @@
+first
+second
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1,3 +0,0 @@
-a = 1
-b = 2
--- c = 3
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -10,4 +10,3 @@ def main():
 x = 1
-y = 2
 z = 3

@@ -40 +39 @@
-old
+new
\\ No newline at end of file
"""


def test_bug_diff_hunks_cite_the_patched_file(samples, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    doc = load_document(str(samples / "bug.diff"))
    assert doc.kind == "diff" and doc.files == ["app/auth.py"]
    assert [(s.title, s.start, s.end) for s in doc.sections] == [("app/auth.py", 0, 2)]

    patched = shutil.copytree(samples / "repo", tmp_path / "repo")
    subprocess.run(["git", "apply", str(samples / "bug.diff")], cwd=patched, check=True)
    lines = (patched / "app" / "auth.py").read_text().split("\n")
    for seg in doc.segments:
        loc = seg.locator
        assert seg.text.startswith("@@ ") and loc.path == "app/auth.py"
        new_side = [line[1:] for line in seg.text.split("\n")[1:] if line[:1] in (" ", "+")]
        assert new_side == lines[loc.start_line - 1 : loc.end_line]
    assert "expected.startswith(signature)" in doc.segments[1].text


def test_new_deleted_binary_and_plain_hunks():
    doc = load_document("-", stdin=io.StringIO(GIT_STYLE))
    assert doc.kind == "diff" and doc.path == "-"
    located = [(s.locator.path, s.locator.start_line, s.locator.end_line) for s in doc.segments]
    assert located == [("notes.txt", 1, 2), ("old.py", 1, 3), ("app.py", 10, 12), ("app.py", 39, 39)]
    assert doc.segments[1].text.endswith("--- c = 3")  # a removed line that looks like a header
    assert doc.segments[2].text.endswith(" z = 3\n")  # a blank context line whose space was stripped
    assert doc.segments[3].text.endswith("\\ No newline at end of file")
    assert [s.title for s in doc.sections] == ["notes.txt", "old.py", "app.py"]
    assert [(s.path, s.reason) for s in doc.skipped] == [("logo.png", "binary")]


def test_plain_diff_u_output(tmp_path):
    path = tmp_path / "change.patch"
    path.write_text(
        "--- notes.orig\t2024-05-01 10:00:00\n+++ notes\t2024-05-02 10:00:00\n"
        "@@ -3,2 +3,3 @@\n keep\n+added\n keep too\n"
    )
    doc = load_document(str(path))
    assert [(s.locator.path, s.locator.start_line, s.locator.end_line) for s in doc.segments] == [("notes", 3, 5)]


def test_text_file_holding_a_diff_is_a_diff(samples, tmp_path):
    path = tmp_path / "review-me.txt"
    path.write_text((samples / "bug.diff").read_text())
    assert load_document(str(path)).kind == "diff"
