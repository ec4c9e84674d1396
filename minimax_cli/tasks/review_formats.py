"""Review findings as other tools read them: JSON lines, SARIF 2.1.0, reviewdog's rdjsonl, Markdown.

A finding is `{path, start_line, end_line, severity: error|warning|note, category, message,
suggestion}`. SARIF: one run whose tool is minimax, one rule per category, each finding a result
with `level` = severity and a region of whole lines; relative paths are given against
`%SRCROOT%`, as GitHub code scanning expects. rdjsonl: one reviewdog Diagnostic per line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

from minimax_cli import __version__

FORMATS = ("text", "jsonl", "sarif", "rdjsonl", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
_RDJSON_SEVERITY = {"error": "ERROR", "warning": "WARNING", "note": "INFO"}


def render_findings(fmt: str, findings: list[dict], text: str = "") -> str:
    """`findings` in format `fmt`; "text" is the readable rendering the task already made."""
    if fmt == "text":
        return text
    if fmt == "jsonl":
        return "\n".join(json.dumps(f, ensure_ascii=False) for f in findings)
    if fmt == "sarif":
        return json.dumps(to_sarif(findings), indent=2, ensure_ascii=False)
    if fmt == "rdjsonl":
        return "\n".join(json.dumps(to_rdjson(f), ensure_ascii=False) for f in findings)
    if fmt == "markdown":
        return to_markdown(findings)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def to_sarif(findings: list[dict]) -> dict:
    """A SARIF 2.1.0 log of one run."""
    categories = list(dict.fromkeys(f["category"] for f in findings))
    rules = [
        {"id": c, "name": c, "shortDescription": {"text": f"{c} (found by a model's code review)"}}
        for c in categories
    ]
    results = []
    for f in findings:
        message = f["message"] + (f"\nSuggestion: {f['suggestion']}" if f["suggestion"] else "")
        result = {
            "ruleId": f["category"],
            "ruleIndex": categories.index(f["category"]),
            "level": f["severity"],
            "message": {"text": message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(f["path"]),
                        "region": {"startLine": f["start_line"], "endLine": f["end_line"]},
                    }
                }
            ],
            # Stable across runs that find the same thing, so code scanning does not reopen it.
            "partialFingerprints": {"minimaxFinding/v1": _fingerprint(f)},
        }
        if f["suggestion"]:
            result["properties"] = {"suggestion": f["suggestion"]}
        results.append(result)
    driver = {"name": "minimax", "version": __version__, "rules": rules}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def to_rdjson(finding: dict) -> dict:
    """One reviewdog Diagnostic (rdjsonl line)."""
    return {
        "message": finding["message"],
        "location": {
            "path": finding["path"],
            "range": {"start": {"line": finding["start_line"]}, "end": {"line": finding["end_line"]}},
        },
        "severity": _RDJSON_SEVERITY[finding["severity"]],
        "source": {"name": "minimax"},
        "code": {"value": finding["category"]},
    }


def to_markdown(findings: list[dict]) -> str:
    """Findings grouped by file, for a pull-request comment or a review.md."""
    if not findings:
        return "**minimax review:** no findings."
    by_path: dict[str, list[dict]] = {}
    for f in findings:
        by_path.setdefault(f["path"], []).append(f)
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    lines = [f"**minimax review:** {count} in {len(by_path)} file{'s' if len(by_path) != 1 else ''}."]
    for path, items in by_path.items():
        lines += ["", f"### `{path}`", ""]
        for f in sorted(items, key=lambda f: (f["start_line"], f["end_line"])):
            span = f"L{f['start_line']}" + (f"-L{f['end_line']}" if f["end_line"] != f["start_line"] else "")
            lines.append(f"- **{f['severity']}** {span} ({f['category']}): {_one_line(f['message'])}")
            if f["suggestion"]:
                lines.append(f"  - Suggestion: {_one_line(f['suggestion'])}")
    return "\n".join(lines)


def _artifact(path: str) -> dict:
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path.replace("\\", "/")), "uriBaseId": SRCROOT}


def _fingerprint(finding: dict) -> str:
    key = "\0".join([finding["path"], finding["category"], finding["message"]])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _one_line(text: str) -> str:
    return " ".join(text.split())
