"""Properties of the request-file parser (batch/requests.py), whatever a file holds: every
non-blank line becomes exactly one job, in file order; a line that cannot run is refused on its own
(bad_request, or too_large over the cap), named by its custom_id or `line-N`, and costs no other
line anything; a good line round-trips into the spec it describes."""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import minimax_cli.batch.requests as requests
from minimax_cli.batch.requests import ChatSpec, read_requests
from minimax_cli.engine.base import Message
from minimax_cli.errors import ErrorCode
from minimax_cli.tasks.spec import TaskSpec

FLAGS = TaskSpec("", max_new_tokens=None)
CHAT_URL = "/v1/chat/completions"
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=20)  # no lone surrogates: hypothesis leaves category Cs out by default
nonblank = st.text(min_size=1, max_size=20).filter(str.strip)
finite = st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([10**400, -(10**400)]) | text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
# Half the time a value that type checks tend to miss: null, the wrong container, an integer no float holds.
odd_json = st.sampled_from([None, [], {}, ["a"], {"a": 1}, "", True, 0, -1, 10**400, 1e308]) | any_json


@dataclass
class Line:
    """A line of a generated file and what the parser must make of it."""

    raw: bytes
    name: str | None = None  # the job's custom_id; None: `line-N`
    or_line_n: bool = False  # named `name` or `line-N` (depends on how deep a line may nest)
    runs: bool | None = False  # True: must run; False: must be refused; None: either
    words: str = ""  # in the refusal's message
    job: dict | None = None  # for a line that runs: the Job fields it must have


# ---- good lines ----------------------------------------------------------------------------------

@st.composite
def content(draw):
    """A message's content as sent (a string, or text parts) and the text the model gets."""
    if draw(st.booleans()):
        value = draw(text)
        return value, value
    parts = draw(st.lists(text, max_size=3))
    return [{"type": "text", "text": p} for p in parts], "\n".join(parts)


@st.composite
def chat_line(draw, custom_id: str):
    turns = draw(st.lists(st.tuples(st.sampled_from(list(ROLES)), content()), max_size=3))
    turns.append(("user", draw(content())))
    body = {"messages": [{"role": role, "content": sent} for role, (sent, _) in turns]}
    optional = {"model": text, "n": st.just(1), "max_tokens": st.integers(1, 10**9),
                "max_completion_tokens": st.integers(1, 10**9), "temperature": st.integers(0, 9) | finite,
                "top_p": st.floats(0, 1, exclude_min=True), "seed": st.integers(-(2**63), 2**64),
                "stop": text | st.lists(text, max_size=3)}
    for key, values in optional.items():
        if draw(st.booleans()):
            body[key] = draw(values)
    line = {"custom_id": custom_id, "url": CHAT_URL, "body": body}
    if draw(st.booleans()):
        line["method"] = "POST"
    stop = body.get("stop", [])
    spec = ChatSpec(
        messages=tuple(Message(ROLES[role], got) for role, (_, got) in turns),
        max_new_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
        temperature=None if "temperature" not in body else float(body["temperature"]),
        top_p=None if "top_p" not in body else float(body["top_p"]),
        seed=body.get("seed", FLAGS.seed),
        stop=(stop,) if isinstance(stop, str) else tuple(stop))
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                            .encode("utf-8")).hexdigest()
    return line, {"custom_ids": (custom_id,), "spec": spec, "body_sha256": digest, "input": None}


@st.composite
def task_line(draw, custom_id: str, folder: Path):
    task = draw(st.sampled_from(["summarize", "ask", "review", "translate"]))
    source = draw(nonblank)
    line = {"custom_id": custom_id, "task": task, "input": source}
    questions = draw(st.lists(nonblank, min_size=1, max_size=3)) if task == "ask" else []
    if questions and draw(st.booleans()):  # `question`, then `questions` for the rest
        line["question"] = questions[0]
        if questions[1:]:
            line["questions"] = questions[1:]
    elif questions:
        line["questions"] = questions
    if task == "translate":
        line["to"] = draw(nonblank)
    optional = {"length": st.sampled_from(["short", "medium", "long"]),
                "strategy": st.sampled_from(["auto", "single", "hierarchical", "incremental"]),
                "chapters": st.booleans(), "from": text, "max_new_tokens": st.integers(1, 10**9),
                "temperature": st.integers(0, 9) | finite, "top_p": st.floats(0, 1, exclude_min=True),
                "seed": st.integers(-(2**63), 2**64)}
    for key, values in optional.items():
        if draw(st.booleans()):
            line[key] = draw(values)
    fields = {"length": "length", "strategy": "strategy", "chapters": "chapters", "to": "to",
              "from": "source_language", "max_new_tokens": "max_new_tokens", "seed": "seed"}
    spec = replace(FLAGS, task=task, questions=tuple(questions),
                   **{field: line[key] for key, field in fields.items() if key in line},
                   **{key: float(line[key]) for key in ("temperature", "top_p") if key in line})
    ids = [f"{custom_id}#q{n}" for n in range(1, len(questions) + 1)] if len(questions) > 1 else [custom_id]
    return line, {"custom_ids": tuple(ids), "spec": spec, "body_sha256": None, "input": str(folder / source)}


@st.composite
def good_line(draw, custom_id: str, folder: Path):
    return draw(chat_line(custom_id) | task_line(custom_id, folder))


@st.composite
def serialised(draw, line: dict) -> bytes:
    """`line` as one JSON line, written the ways writers write JSON."""
    separators = draw(st.sampled_from([(", ", ": "), (",", ":")]))
    dumped = json.dumps(line, ensure_ascii=draw(st.booleans()), sort_keys=draw(st.booleans()),
                        separators=separators)
    pad = st.sampled_from(["", " ", "\t", "  "])
    return (draw(pad) + dumped + draw(pad)).encode("utf-8")


# ---- bad lines -----------------------------------------------------------------------------------

def set_at(line: dict, path: tuple, value) -> dict:
    line = copy.deepcopy(line)
    target = line
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return line


def paths(line: dict) -> list[tuple]:
    """Where a good line can be spoiled: any field but custom_id, the body's, the messages'."""
    found = [(key,) for key in line if key != "custom_id"] + [("unknown",)]
    if "body" in line:
        body = line["body"]
        found += [("body", key) for key in [*body, "n", "tools", "max_tokens", "temperature", "top_p", "seed",
                                            "stop"]]
        for i in range(len(body["messages"])):
            found += [("body", "messages", i), ("body", "messages", i, "role"),
                      ("body", "messages", i, "content")]
    else:
        found += [(key,) for key in ("to", "from", "seed", "chapters", "length", "questions", "temperature",
                                     "top_p")]
    return found


@st.composite
def bad_line(draw, custom_id: str, folder: Path, earlier: list[Line]) -> Line:
    kind = draw(st.sampled_from(["spoiled", "bytes", "torn", "not_utf8", "constant", "long_int",
                                 "surrogate", "surrogate_id", "no_id", "deep", "repeat"]))
    line, _ = draw(good_line(custom_id, folder))
    if kind == "spoiled":  # valid JSON, a field of any JSON value: refused or run, never raised
        spoiled = set_at(line, draw(st.sampled_from(paths(line))), draw(odd_json))
        return Line(draw(serialised(spoiled)), custom_id, runs=None)
    if kind == "bytes":
        raw = draw(st.binary(max_size=80)).replace(b"\n", b" ").replace(b"\r", b" ")
        return Line(raw)
    if kind == "torn":  # a writer killed mid-line
        raw = json.dumps(line).encode()
        return Line(raw[:draw(st.integers(0, len(raw) - 1))], words="not a JSON line")
    if kind == "not_utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3(", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"]))
        raw = json.dumps(line).encode().replace(b'"custom_id"', b'"x": "' + bad + b'", "custom_id"', 1)
        return Line(raw, words="not a JSON line")
    if kind == "constant":  # what Python's json writes for nan and inf; not JSON
        value = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        return Line(json.dumps({**line, "temperature": "@"}).replace('"@"', value).encode(),
                    words="not a JSON line")
    if kind == "long_int":  # more digits than Python turns into an int
        return Line(json.dumps({**line, "seed": "@"}).replace('"@"', "9" * 5000).encode(),
                    words="not a JSON line")
    escape = f"\\u{draw(st.integers(0xD800, 0xDFFF)):04x}"
    if kind == "surrogate":  # a lone escaped surrogate in a value: named by its custom_id
        raw = json.dumps({**line, "input": "@"}).replace('"@"', f'"{escape}"').encode()
        return Line(raw, custom_id, words="surrogate")
    if kind == "surrogate_id":
        named = f'"{escape}{json.dumps(custom_id)[1:]}'  # the escape, then the custom_id's own text
        raw = json.dumps({**line, "custom_id": "@"}).replace('"@"', named).encode()
        return Line(raw, words="surrogate")
    if kind == "no_id":
        no_id = {k: v for k, v in line.items() if k != "custom_id"}
        if draw(st.booleans()):
            no_id["custom_id"] = draw(st.sampled_from(["", None, 7, ["a"], {"id": "a"}]))
        return Line(draw(serialised(no_id)), words="custom_id")
    if kind == "deep":  # refused either way; past MAX_DEPTH before its custom_id is looked at
        depth = draw(st.integers(1, 1200) | st.just(100_000))
        raw = json.dumps({**line, "body": "@"}).replace('"@"', "[" * depth + "]" * depth).encode()
        return Line(raw, custom_id, or_line_n=depth >= 20)
    runs = [x for x in earlier if x.runs]
    if not runs:  # nothing to repeat yet
        return Line(b"[]", words="custom_id")
    return Line(draw(st.sampled_from(runs)).raw, words="duplicate")


# ---- files ---------------------------------------------------------------------------------------

FOLDER = Path(tempfile.gettempdir())  # where the request file lies: inputs are relative to it


@st.composite
def request_file(draw, bad: bool = True):
    lines: list[Line] = []
    for i in range(draw(st.integers(0, 8))):
        custom_id = f"{i}-{draw(text)}"  # unique: the index comes first
        if not draw(st.booleans()):
            lines.append(Line(draw(st.sampled_from([b"", b" ", b"\t ", b"  \t"])), runs=None))
        elif bad and draw(st.booleans()):
            lines.append(draw(bad_line(custom_id, FOLDER, lines)))
        else:
            line, job = draw(good_line(custom_id, FOLDER))
            lines.append(Line(draw(serialised(line)), custom_id, runs=True, job=job))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = newline.join(line.raw for line in lines) + draw(st.sampled_from([b"", newline]))
    return lines, data


def parse(data: bytes):
    with tempfile.NamedTemporaryFile(dir=FOLDER, suffix=".jsonl") as f:
        f.write(data)
        f.flush()
        return read_requests(Path(f.name), FLAGS)


def check(lines: list[Line], jobs, cap: int = requests.MAX_LINE_BYTES) -> None:
    expected = [(number, line) for number, line in enumerate(lines, 1) if line.raw.strip()]
    assert len(jobs) == len(expected), [job.label for job in jobs]
    for (number, line), job in zip(expected, jobs):
        if len(line.raw) > cap:  # refused unread, whatever it holds
            assert job.label == f"line-{number}" and job.problem.code == ErrorCode.TOO_LARGE
            continue
        if line.runs is not None:
            assert (job.problem is None) == line.runs, (line.raw, job.problem)
        names = {line.name or f"line-{number}"} | ({f"line-{number}"} if line.or_line_n else set())
        assert job.label in names, (line.raw, job.label)
        if job.problem is not None:
            assert job.problem.code == ErrorCode.BAD_REQUEST, job.problem
            assert line.words in job.problem.message, (line.raw, job.problem.message)
            assert job.custom_ids == (job.label,) and job.spec is None
        elif line.job is not None:
            assert {key: getattr(job, key) for key in line.job} == line.job
        else:  # a spoiled line that still runs: the spec holds values of the declared types
            assert_types(job.spec)


def assert_types(spec) -> None:
    optional = {"max_new_tokens": int, "temperature": float, "top_p": float}
    if isinstance(spec, TaskSpec):
        assert all(isinstance(getattr(spec, f), str) for f in ("task", "length", "strategy", "to")), spec
        assert isinstance(spec.chapters, bool) and isinstance(spec.seed, int), spec
        assert spec.source_language is None or isinstance(spec.source_language, str), spec
        assert all(isinstance(q, str) for q in spec.questions), spec
    else:
        assert isinstance(spec, ChatSpec) and isinstance(spec.seed, int), spec
    for name, kind in optional.items():
        value = getattr(spec, name)
        assert value is None or (isinstance(value, kind) and not isinstance(value, bool)), spec


# ---- the properties ------------------------------------------------------------------------------

@PROPERTY
@given(request_file(bad=False))
def test_good_lines_round_trip_in_order(file):
    lines, data = file
    jobs = parse(data)
    assert [job.label for job in jobs] == [line.name for line in lines if line.runs]
    check(lines, jobs)


@settings(PROPERTY, max_examples=100)
@given(request_file())
def test_any_line_is_one_job_refused_on_its_own(file):
    lines, data = file
    check(lines, parse(data))


@st.composite
def spoiled_line(draw) -> bytes:
    line, _ = draw(good_line("spoiled", FOLDER))
    return draw(serialised(set_at(line, draw(st.sampled_from(paths(line))), draw(odd_json))))


def spoiled(**fields) -> bytes:
    """A line of `fields` under the custom_id `spoiled`: a chat line when `body` is among them."""
    kind = {"url": CHAT_URL} if "body" in fields else {"task": "summarize", "input": "a.txt"}
    return json.dumps({"custom_id": "spoiled", **kind, **fields}).encode()


AFTER = {"custom_id": "after", "url": CHAT_URL, "body": {"messages": [{"role": "user", "content": "Hi"}]}}
AFTER_JOB = {"custom_ids": ("after",), "spec": ChatSpec((Message("user", "Hi"),), seed=FLAGS.seed)}


@settings(PROPERTY, max_examples=100)
@example(spoiled(body={"messages": [{"role": ["user"], "content": "Hi"}]}))  # an unhashable role
@example(spoiled(body={"messages": [{"role": "user", "content": "Hi"}], "temperature": 10**400}))
@example(spoiled(temperature=10**400))  # no float holds it
@example(spoiled(top_p=-(10**400)))
@example(spoiled(task="translate", to=None))  # null: not given
@example(spoiled(seed=None))
@given(spoiled_line())
def test_a_spoiled_field_refuses_its_own_line_only(raw):
    """A good line with one field set to any JSON value: refused under its custom_id, or run with
    values of the types the engines expect; the good line after it runs either way."""
    lines = [Line(raw, "spoiled", runs=None),
             Line(json.dumps(AFTER).encode(), "after", runs=True, job=AFTER_JOB)]
    check(lines, parse(b"\n".join(line.raw for line in lines)))


@PROPERTY
@given(request_file(), st.integers(1, 400))
def test_lines_over_the_cap_are_refused_unread(file, cap):
    lines, data = file
    with mock.patch.object(requests, "MAX_LINE_BYTES", cap):
        jobs = parse(data)
    check(lines, jobs, cap)


def test_every_depth_of_nesting_is_refused_or_run_never_raised():
    """JSON nests one call deep a level, in the parser and in what reads the line after it: at every
    depth up to past Python's recursion limit, the line is refused (its body is not an object) and
    the good line after it runs."""
    good = json.dumps({"custom_id": "ok", "url": CHAT_URL, "body": {"messages": [{"role": "user",
                                                                                    "content": "Hi"}]}})
    data = "\n".join([f'{{"custom_id": "d{d}", "body": {"[" * d}{"]" * d}}}' for d in range(1, 1500)]
                     + [good]).encode()
    jobs = parse(data)
    assert len(jobs) == 1500 and jobs[-1].label == "ok" and jobs[-1].problem is None
    assert all(job.problem.code == ErrorCode.BAD_REQUEST for job in jobs[:-1])
