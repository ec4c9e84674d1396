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
with no usable custom_id, or one seen before, is named `line-N` (its 1-based line number). The
rest of the file runs. An ask line with several questions writes its records under `ID#q1`,
`ID#q2`...: those ids count as seen too, and a later line whose own ids (its custom_id, or the
ids of its questions) were seen is refused.

Chat lines, OpenAI chat-completion requests: Only what a local model can honour is accepted: text content (a string, or a list of
`{"type": "text"}` parts), roles system / developer / user / assistant with the user speaking
last, and the sampling fields `max_tokens` (or `max_completion_tokens`), `temperature`, `top_p`,
`seed` and `stop`. `model` and fields that only shape an API response are ignored; anything that
would change the answer and cannot be honoured (`n` > 1, images, tools) is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

from minimax_cli.batch.jobs import Job, refused
from minimax_cli.engine.base import Engine, Generation, GenerationParams, Message
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.records import canonical_json
from minimax_cli.sources.clean import has_surrogates
from minimax_cli.tasks.spec import TaskSpec

CHAT_URL = "/v1/chat/completions"
# A line longer than this is refused unread: parsing and tokenizing it would only exhaust memory.
MAX_LINE_BYTES = 8 << 20
# Deeper lines are refused: what reads a line after json (fingerprints, records) recurses once a
# level too, from further down the stack, so json's own limit is not enough. Requests nest ~5 deep.
MAX_DEPTH = 64
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
    first_line: dict[str, int] = {}  # custom_id (a line's, or a record's) -> the line that used it first
    expanded: set[str] = set()  # those of first_line that are a question's record id (`id#qN`)
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        synthetic = f"line-{number}"
        if len(raw) > MAX_LINE_BYTES:
            problem = MinimaxError(ErrorCode.TOO_LARGE, f"the line has {len(raw):,} bytes; at most "
                                   f"{MAX_LINE_BYTES:,} are read")
            jobs.append(refused(synthetic, problem, raw))
            continue
        try:
            line = json.loads(raw, parse_constant=_not_json)
        except ValueError as exc:  # also UnicodeDecodeError, and an integer of over 4,300 digits
            jobs.append(refused(synthetic, _bad(f"not a JSON line: {exc}"), raw))
            continue
        except RecursionError:  # json recurses once per nesting level
            jobs.append(refused(synthetic, _bad("not a JSON line: nested too deeply"), raw))
            continue
        if _deeper_than(line, MAX_DEPTH):
            jobs.append(refused(synthetic, _bad(f"nested too deeply (more than {MAX_DEPTH} levels)"), raw))
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(custom_id, str) or not custom_id:
            jobs.append(refused(synthetic, _bad("the line has no custom_id (a non-empty string)"), raw))
            continue
        if has_surrogates(canonical_json(line)):  # an escaped lone surrogate: no UTF-8 text holds it
            name = synthetic if has_surrogates(custom_id) else custom_id
            jobs.append(refused(name, _bad("the line holds a lone surrogate escape (\\udXXX): not valid "
                                           "Unicode text"), raw))
            continue
        if custom_id in first_line:
            jobs.append(refused(synthetic, _duplicate(custom_id, first_line, expanded), raw))
            continue
        first_line[custom_id] = number
        try:
            job = _task_job(line, path.parent, flags) if "task" in line else _chat_job(line, flags)
        except MinimaxError as exc:
            jobs.append(refused(custom_id, exc, raw))
            continue
        # An ask line with several questions writes its records under `id#q1`, `id#q2`...: ids
        # that an earlier line may hold, or a later line name, as its own.
        taken = next((cid for cid in job.custom_ids if cid in first_line and cid != custom_id), None)
        if taken is not None:
            jobs.append(refused(custom_id, _duplicate(taken, first_line, expanded), raw))
            continue
        for cid in job.custom_ids:
            if cid != custom_id:
                first_line[cid] = number
                expanded.add(cid)
        jobs.append(job)
    return jobs


def _duplicate(custom_id: str, first_line: dict[str, int], expanded: set[str]) -> MinimaxError:
    how = ", the id of one of its questions" if custom_id in expanded else ""
    return _bad(f"duplicate custom_id {custom_id!r} (first on line {first_line[custom_id]}{how})")


def _not_json(constant: str) -> float:
    # Python's json reads NaN and Infinity; they would reach records that no other reader reads.
    raise ValueError(f"{constant} is not JSON")


def _deeper_than(value: object, limit: int) -> bool:
    level = [value]
    for _ in range(limit):  # a level at a time: no recursion
        level = [child for x in level if isinstance(x, (dict, list))
                 for child in (x.values() if isinstance(x, dict) else x)]
        if not level:
            return False
    return True


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
    line = {k: v for k, v in line.items() if v is not None or k not in TASK_OPTIONS}  # null: not given
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
        temperature=_float(line.get("temperature", flags.temperature), "temperature"),
        top_p=_float(line.get("top_p", flags.top_p), "top_p"),
        seed=line.get("seed", flags.seed),
    )
    spec.check()
    return Job(custom_ids=tuple(spec.custom_ids(custom_id)), label=custom_id, spec=spec,
               input=str(folder / source))


def _float(value: int | float | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # 0 and 0.0 must fingerprint alike
    except OverflowError:  # an integer past the largest float
        raise _bad(f"{name} is too large") from None


def _bad(message: str) -> MinimaxError:
    return MinimaxError(ErrorCode.BAD_REQUEST, message)


# ---- chat completions -------------------------------------------------------------------------

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Fields that ask for something we would silently not do.
REFUSED_FIELDS = ("tools", "functions", "tool_choice", "function_call", "audio", "modalities", "prediction")


@dataclass(frozen=True)
class ChatSpec:
    """A validated chat-completion request; values left None take the preset's defaults."""

    messages: tuple[Message, ...]
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: object) -> ChatSpec:
        """The request `body` of a batch line, checked; BAD_REQUEST saying what is wrong."""
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        for name in REFUSED_FIELDS:
            if body.get(name):
                raise _bad(f"{name} is not supported")
        if body.get("n", 1) != 1:
            raise _bad("n must be 1")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("body.messages must be a non-empty list")
        converted = tuple(_message(m, i) for i, m in enumerate(messages))
        if converted[-1].role != "user":
            raise _bad("the last message must be the user's")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        return cls(
            messages=converted,
            max_new_tokens=_number(max_tokens, "max_tokens", int, minimum=1),
            temperature=_number(body.get("temperature"), "temperature", float, minimum=0),
            top_p=_number(body.get("top_p"), "top_p", float, minimum=0, exclusive=True, maximum=1),
            seed=_number(body.get("seed"), "seed", int),
            stop=_stop(body.get("stop")),
        )

    def params(self, defaults: GenerationParams) -> GenerationParams:
        """The request's values over the preset's `defaults`."""
        return GenerationParams(
            max_new_tokens=defaults.max_new_tokens if self.max_new_tokens is None else self.max_new_tokens,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            seed=defaults.seed if self.seed is None else self.seed,
            stop=self.stop,
        )

    def settings(self, defaults: GenerationParams) -> dict:
        return self.params(defaults).to_dict()

    def run(self, engine: Engine, progress: Progress = NULL_PROGRESS) -> dict:
        """Generate, and answer with an OpenAI `chat.completion` body."""
        generation = engine.generate(self.messages, self.params(engine.default_params), progress)
        return completion_body(generation, engine.info.name)


def completion_body(generation: Generation, model: str) -> dict:
    message: dict = {"role": "assistant", "content": generation.text}
    if generation.reasoning is not None:  # MiniMax-M1's <think> block, as other servers name it
        message["reasoning_content"] = generation.reasoning
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": generation.finish_reason}],
        "usage": {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens,
        },
    }


def _message(raw: object, index: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise _bad(f"{where} must be an object")
    role = raw.get("role")
    role = ROLES.get(role) if isinstance(role, str) else None
    if role is None:
        raise _bad(f"{where}.role must be one of {', '.join(ROLES)}")
    content = raw.get("content")
    if isinstance(content, str):
        return Message(role, content)
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _bad(f"{where}: only text content parts are supported, not {kind!r}")
            texts.append(part["text"])
        return Message(role, "\n".join(texts))
    raise _bad(f"{where}.content must be a string or a list of text parts")


def _number(value: object, name: str, kind: type, *, minimum: float | None = None,
            maximum: float | None = None, exclusive: bool = False) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise _bad(f"{name} must be {'an integer' if kind is int else 'a number'}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise _bad(f"{name} must be {'above' if exclusive else 'at least'} {minimum:g}")
    if maximum is not None and value > maximum:
        raise _bad(f"{name} must be at most {maximum:g}")
    return int(value) if kind is int else _float(value, name)


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise _bad("stop must be a string or a list of strings")

