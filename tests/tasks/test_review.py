import json

from minimax_cli.sources.document import Document, Locator, Segment
from minimax_cli.tasks.review import ReviewOptions, check_finding, parse_findings, review
from tests.fakes import FakeEngine
from tests.tasks.docs import code, words

SCORES = "".join(f"line {i}\n" for i in range(1, 11)) + "for i in range(1, len(records)):\n    total += records[i]\n"


def finding(path="stats.py", start=11, end=12, severity="error", message="Skips the first record."):
    return {
        "path": path,
        "start_line": start,
        "end_line": end,
        "severity": severity,
        "category": "bug",
        "message": message,
        "suggestion": "Use range(len(records)).",
    }


def run(reply, files=None, **engine):
    doc = code(files or {"stats.py": SCORES})
    fake = FakeEngine([reply] if isinstance(reply, str) else reply, **engine)
    return review(doc, fake, ReviewOptions()), fake


def test_code_is_shown_with_line_numbers():
    result, engine = run("[]")
    prompt = engine.prompts[0]
    assert "### stats.py\n   1 | line 1\n" in prompt
    assert "  11 | for i in range(1, len(records)):" in prompt
    assert result.result == {"findings": [], "dropped_findings": 0, "files_reviewed": 1}


def test_fenced_json_with_trailing_prose():
    reply = "Here is my review:\n```json\n" + json.dumps([finding()]) + "\n```\nLet me know if you need more."
    result, _ = run(reply)
    assert result.result["findings"] == [finding()]
    assert result.result["dropped_findings"] == 0
    assert "stats.py:11-12: error [bug] Skips the first record." in result.text


def test_one_malformed_finding_does_not_lose_the_others():
    good = json.dumps(finding())
    other = json.dumps(finding(start=1, end=1, severity="nit", message="Odd name."))
    reply = f'[{good}, {{"path": "stats.py", "start_line": 3 "message": "broken"}}, {other}]'
    result, _ = run(reply)
    findings = result.result["findings"]
    assert [f["message"] for f in findings] == ["Skips the first record.", "Odd name."]
    assert findings[1]["severity"] == "note"
    assert result.result["dropped_findings"] == 1


def test_unknown_severity_is_a_warning_and_lines_are_clamped():
    result, _ = run(json.dumps({"findings": [finding(severity="catastrophic", start=12, end=40)]}))
    [f] = result.result["findings"]
    assert f["severity"] == "warning" and (f["start_line"], f["end_line"]) == (12, 12)


def test_findings_on_lines_or_files_not_shown_are_dropped():
    reply = json.dumps(
        [finding(start=50, end=52), finding(path="other.py"), finding(path="./stats.py", start=2, end=2)]
    )
    result, _ = run(reply)
    assert [(f["path"], f["start_line"]) for f in result.result["findings"]] == [("stats.py", 2)]
    assert result.result["dropped_findings"] == 2


def test_diff_review_shows_only_the_hunks_numbered_by_new_lines():
    hunk = "\n".join(
        [
            "@@ -40,3 +40,4 @@ def total(records):",
            "     s = 0",
            "-    for r in records[1:]:",
            "+    for r in records:",
            "+        check(r)",
            "         s += r",
        ]
    )
    doc = Document("change.diff", "diff", [Segment(hunk, Locator("stats.py", start_line=40, end_line=43))], "x")
    engine = FakeEngine([json.dumps([finding(start=41, end=45), finding(start=10, end=10)])])
    result = review(doc, engine, ReviewOptions())
    prompt = engine.prompts[0]
    assert "  40 |      s = 0\n     | -    for r in records[1:]:\n  41 | +    for r in records:" in prompt
    assert "lines starting with + were added" in prompt
    [f] = result.result["findings"]
    assert (f["start_line"], f["end_line"]) == (41, 43)
    assert result.result["dropped_findings"] == 1


def test_a_repo_that_does_not_fit_is_reviewed_file_by_file():
    files = {f"mod{i}.py": "\n".join(words(8, f"x{i}") for _ in range(30)) + "\n" for i in range(4)}
    replies = [json.dumps([finding(path=f"mod{i}.py", start=3, end=3)]) for i in range(4)]
    result, engine = run(replies, files=files, context_window=1000)
    assert result.strategy == "split" and len(engine.calls) > 1
    assert result.result["files_reviewed"] == 4
    for prompt in engine.prompts:  # no file is cut between calls
        assert all(prompt.count(f"### mod{i}.py") in (0, 1) for i in range(4))
    shown = {i for i in range(4) for p in engine.prompts if f"### mod{i}.py" in p}
    assert shown == {0, 1, 2, 3}


def test_parse_findings_reads_a_single_bare_object_and_python_quotes():
    items, broken = parse_findings("{'path': 'a.py', 'start_line': 1, 'message': 'x'}")
    assert items == [{"path": "a.py", "start_line": 1, "message": "x"}] and broken == 0
    assert parse_findings("No problems found: []")[0] == []


def test_check_finding_accepts_a_missing_path_when_one_file_was_shown():
    f = check_finding({"line": "3", "message": "m"}, {"a.py": [(1, 10)]})
    assert f == {
        "path": "a.py",
        "start_line": 3,
        "end_line": 3,
        "severity": "warning",
        "category": "issue",
        "message": "m",
        "suggestion": "",
    }


def test_diff_from_the_diff_reader_is_reviewed_by_hunk():
    from minimax_cli.sources.diff import load_diff

    patch = (
        "diff --git a/app/auth.py b/app/auth.py\n--- a/app/auth.py\n+++ b/app/auth.py\n"
        "@@ -10,2 +10,3 @@ def login(user, password):\n     check(user)\n+    log(password)\n     return True\n"
        "@@ -50,1 +51,1 @@\n-    return 1\n+    return 2\n"
    )
    doc = load_diff(patch, "change.diff", "sha")
    reply = json.dumps([finding(path="b/app/auth.py", start=11, end=11), finding(path="app/auth.py", start=30, end=30)])
    result = review(doc, FakeEngine([reply]), ReviewOptions())
    [f] = result.result["findings"]
    assert (f["path"], f["start_line"], f["end_line"]) == ("app/auth.py", 11, 11)
    assert result.result["dropped_findings"] == 1 and result.result["files_reviewed"] == 1
