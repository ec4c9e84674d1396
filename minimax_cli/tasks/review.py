"""review: code review findings, each pinned to lines the model was shown.

The code goes to the model with line numbers (a diff: only its hunks, numbered by new-file lines),
split by files when it does not fit. Findings come back as JSON, read robustly; a finding whose
path or first line was not shown is dropped, and its last line is clamped to what was shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import Engine, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.sources.document import Document, Segment
from minimax_cli.tasks.codeview import shown_ranges
from minimax_cli.tasks.framing import render
from minimax_cli.tasks.jsonparse import find_json, flat_objects
from minimax_cli.tasks.plan import plan
from minimax_cli.tasks.prompts import chat, load_prompt
from minimax_cli.tasks.result import TaskResult
from minimax_cli.tasks.session import Call, Session

SEVERITIES = ("error", "warning", "note")
# Words models use for severity besides the three SARIF levels; anything else is a warning.
_SEVERITY_WORDS = {
    "critical": "error",
    "high": "error",
    "blocker": "error",
    "major": "error",
    "medium": "warning",
    "moderate": "warning",
    "low": "note",
    "minor": "note",
    "info": "note",
    "none": "note",
    "nit": "note",
}
_SUBJECTS = {
    "diff": "the changes in this diff (lines starting with + were added, - removed; review what the change adds)",
}
_FINDING_KEYS = ('"message"', '"start_line"', '"line"', '"severity"')

Ranges = dict[str, list[tuple[int, int]]]


@dataclass
class ReviewOptions:
    params: GenerationParams = field(default_factory=GenerationParams)
    prompt_dirs: tuple[Path, ...] = ()

    def settings(self) -> dict:
        return self.params.to_dict()


def review(doc: Document, engine: Engine, opts: ReviewOptions, progress: Progress = NULL_PROGRESS) -> TaskResult:
    """Review `doc`: {"findings": [{path, start_line, end_line, severity, category, message,
    suggestion}], "dropped_findings", "files_reviewed"}."""
    if not doc.segments:
        raise MinimaxError(ErrorCode.EMPTY, "the document has no text", doc.path)
    session = Session("review", engine, opts.params, progress, opts.prompt_dirs)
    the_plan = plan(doc, engine, "review", opts.params.max_new_tokens, prompt_dirs=opts.prompt_dirs)
    template = load_prompt("review", opts.prompt_dirs)
    subject = _SUBJECTS.get(doc.kind, "the following code")
    findings: list[dict] = []
    dropped = 0
    files: set[str] = set()
    task = progress.task("Reviewing", total=len(the_plan.parts), unit="parts")
    calls, shown_parts = [], []
    for n, part in enumerate(the_plan.parts, 1):
        segments = part.segments(doc)
        shown = _shown(segments, diff=doc.kind == "diff")
        files.update(shown)
        user = template.render(subject=subject, code=render(doc, segments, "review"))
        calls.append(Call(chat(user, opts.prompt_dirs), f"the review of part {n}"))
        shown_parts.append(shown)
    for shown, generation in zip(shown_parts, session.stream(calls)):  # all parts in flight at once
        raw, broken = parse_findings(generation.text)
        dropped += broken
        for item in raw:
            finding = check_finding(item, shown)
            if finding is None:
                dropped += 1
            else:
                findings.append(finding)
        task.advance()
    task.close()
    result = {"findings": findings, "dropped_findings": dropped, "files_reviewed": len(files)}
    return session.result(result, _render(findings), the_plan.strategy)


def parse_findings(text: str) -> tuple[list[object], int]:
    """The findings in a reply (a list, `{"findings": [...]}`, fenced or not, with prose around),
    and how many finding-like objects could not be read."""
    value = find_json(text, _is_findings)
    if isinstance(value, dict):
        value = value.get("findings", value.get("issues"))
    if isinstance(value, list):
        return value, 0
    items, broken = [], 0
    for raw, obj in flat_objects(text):  # the list around them is broken: take the objects one by one
        if obj is not None:
            items.append(obj)
        elif any(key in raw for key in _FINDING_KEYS):
            broken += 1
    return items, broken


def check_finding(item: object, shown: Ranges) -> dict | None:
    """The finding in canonical form, its lines inside what was shown; None if it cannot be placed."""
    if not isinstance(item, dict):
        return None
    path = _shown_path(_text(item.get("path") or item.get("file") or item.get("relevant_file")), shown)
    start = _line(item.get("start_line", item.get("line")))
    end = _line(item.get("end_line")) or start
    message = _text(item.get("message") or item.get("issue") or item.get("description"))
    if path is None or start is None or not message:
        return None
    if end < start:
        start, end = end, start
    block = next((r for r in shown[path] if r[0] <= start <= r[1]), None)
    if block is None:  # a range that starts before the shown lines but ends in them: start there
        block = next((r for r in shown[path] if start < r[0] <= end), None)
        if block is None:
            return None
        start = block[0]
    severity = _text(item.get("severity") or item.get("level")).lower()
    return {
        "path": path,
        "start_line": start,
        "end_line": min(end, block[1]),
        "severity": severity if severity in SEVERITIES else _SEVERITY_WORDS.get(severity, "warning"),
        "category": _text(item.get("category") or item.get("label")).lower() or "issue",
        "message": message,
        "suggestion": _text(item.get("suggestion") or item.get("fix")),
    }


def _is_findings(value: object) -> bool:
    if isinstance(value, list):  # "[]", or a list holding objects; not a stray "[3]" in prose
        return not value or any(isinstance(v, dict) for v in value)
    return isinstance(value, dict) and isinstance(value.get("findings", value.get("issues")), list)


def _shown(segments: list[Segment], diff: bool) -> Ranges:
    shown: Ranges = {}
    for segment in segments:
        shown.setdefault(segment.locator.path, []).extend(shown_ranges(segment, diff))
    return shown


def _shown_path(path: str, shown: Ranges) -> str | None:
    """The shown file a finding means: exact, without ./ or a diff's a/ b/, or by unique suffix."""
    if not path:
        return next(iter(shown)) if len(shown) == 1 else None
    for candidate in (path, path.removeprefix("./"), path[2:] if path[:2] in ("a/", "b/") else path):
        if candidate in shown:
            return candidate
    tail = "/" + path.lstrip("./")
    matches = [p for p in shown if ("/" + p).endswith(tail) or tail.endswith("/" + p)]
    return matches[0] if len(matches) == 1 else None


def _line(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        line = int(value)
    except (TypeError, ValueError):
        return None
    return line if line > 0 else None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _render(findings: list[dict]) -> str:
    if not findings:
        return "No findings."
    lines = []
    for f in findings:
        span = f"{f['start_line']}" if f["start_line"] == f["end_line"] else f"{f['start_line']}-{f['end_line']}"
        lines.append(f"{f['path']}:{span}: {f['severity']} [{f['category']}] {f['message']}")
        if f["suggestion"]:
            lines.append(f"    suggestion: {f['suggestion']}")
    return "\n".join(lines)
