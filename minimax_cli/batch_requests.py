"""Request files: one JSON object a line, each a job with its own custom_id.

Two kinds of line:

  - an OpenAI Batch request, run as a chat completion on the loaded model:
    `{"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions",
      "body": {"messages": [...], "max_tokens": 200, "temperature": 0}}`
  - one of our task lines, a document and a task with its options:
    `{"custom_id": "b1", "task": "ask", "input": "book.pdf", "question": "Who kept the light?"}`
    `input` is relative to the request file's folder; the options are those of the commands:
    `question` / `questions`, `length`, `strategy`, `chapters`, `to`, `from`, `max_new_tokens`,
    `temperature`, `top_p`, `seed`.

A line that cannot run (not JSON, no custom_id, a custom_id seen before, an unsupported url or
method, a bad option) becomes a job that writes an error line with code `bad_request`; a line
with no usable custom_id is named `line-N` (its 1-based line number). The rest of the file runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from minimax_cli.batch import Job, canonical_json, refused
from minimax_cli.chat_completions import ChatSpec
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.jobs import TaskSpec

CHAT_URL = "/v1/chat/completions"
TASK_OPTIONS = {
    "question": str, "questions": list, "length": str, "strategy": str, "chapters": bool, "to": str,
    "from": str, "max_new_tokens": int, "temperature": (int, float), "top_p": (int, float), "seed": int,
}


def read_requests(path: Path, flags: TaskSpec) -> list[Job]:
    """The jobs of a request file. `flags` (the command line's) give what lines leave out: the
    generation values (max_new_tokens, temperature, top_p, seed) and the prompt folders."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MinimaxError(ErrorCode.NOT_FOUND, "no such request file", str(path)) from None
    except OSError as exc:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read: {exc.strerror or exc}", str(path)) from None
    jobs: list[Job] = []
    first_line: dict[str, int] = {}  # custom_id -> the line that used it first
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        synthetic = f"line-{number}"
        try:
            line = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            jobs.append(refused(synthetic, _bad(f"not a JSON line: {exc}"), raw))
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(custom_id, str) or not custom_id:
            jobs.append(refused(synthetic, _bad("the line has no custom_id (a non-empty string)"), raw))
            continue
        if custom_id in first_line:
            problem = _bad(f"duplicate custom_id {custom_id!r} (first on line {first_line[custom_id]})")
            jobs.append(refused(synthetic, problem, raw))
            continue
        first_line[custom_id] = number
        try:
            jobs.append(_task_job(line, path.parent, flags) if "task" in line else _chat_job(line, flags))
        except MinimaxError as exc:
            jobs.append(refused(custom_id, exc, raw))
    return jobs


def _chat_job(line: dict, flags: TaskSpec) -> Job:
    method, url = line.get("method", "POST"), line.get("url")
    if method != "POST":
        raise _bad(f"unsupported method {method!r}: only POST")
    if url != CHAT_URL:
        raise _bad(f"unsupported url {url!r}: only {CHAT_URL} (or a task line with \"task\")")
    spec = ChatSpec.from_body(line.get("body"))
    spec = replace(
        spec,
        max_new_tokens=flags.max_new_tokens if spec.max_new_tokens is None else spec.max_new_tokens,
        temperature=flags.temperature if spec.temperature is None else spec.temperature,
        top_p=flags.top_p if spec.top_p is None else spec.top_p,
        seed=flags.seed if spec.seed is None else spec.seed,
    )
    body_sha256 = hashlib.sha256(canonical_json(line["body"]).encode("utf-8")).hexdigest()
    custom_id = line["custom_id"]
    return Job(custom_ids=(custom_id,), label=custom_id, spec=spec, body_sha256=body_sha256)


def _task_job(line: dict, folder: Path, flags: TaskSpec) -> Job:
    custom_id = line["custom_id"]
    unknown = set(line) - {"custom_id", "task", "input"} - set(TASK_OPTIONS)
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(sorted(unknown))}; a task line takes custom_id, task, "
                   f"input and {', '.join(TASK_OPTIONS)}")
    for name, kind in TASK_OPTIONS.items():
        value = line.get(name)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            raise _bad(f"{name} has the wrong type: {value!r}")
    questions = ([line["question"]] if line.get("question") else []) + list(line.get("questions") or [])
    if not all(isinstance(q, str) and q.strip() for q in questions):
        raise _bad("questions must be non-empty strings")
    source = line.get("input")
    if not isinstance(source, str) or not source:
        raise _bad("a task line needs input: the path of a document, relative to the request file")
    spec = replace(
        flags,
        task=line["task"] if isinstance(line["task"], str) else repr(line["task"]),
        questions=tuple(questions),
        length=line.get("length", flags.length),
        strategy=line.get("strategy", flags.strategy),
        chapters=line.get("chapters", flags.chapters),
        to=line.get("to", flags.to),
        source_language=line.get("from", flags.source_language),
        max_new_tokens=line.get("max_new_tokens", flags.max_new_tokens),
        temperature=_float(line.get("temperature", flags.temperature)),
        top_p=_float(line.get("top_p", flags.top_p)),
        seed=line.get("seed", flags.seed),
    )
    spec.check()
    return Job(custom_ids=tuple(spec.custom_ids(custom_id)), label=custom_id, spec=spec,
               input=str(folder / source))


def _float(value: int | float | None) -> float | None:
    return None if value is None else float(value)  # 0 and 0.0 must fingerprint alike


def _bad(message: str) -> MinimaxError:
    return MinimaxError(ErrorCode.BAD_REQUEST, message)
