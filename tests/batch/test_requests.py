"""Request files: OpenAI Batch chat lines and our task lines, bad lines as error lines, and the
chat.completion answers, with a scripted engine."""

import json

import pytest

from minimax_cli.batch.resume import plan_batch
from minimax_cli.batch.run import execute
from minimax_cli.batch.requests import read_requests
from minimax_cli.batch.requests import ChatSpec
from minimax_cli.engine.base import GenerationParams, Message
from minimax_cli.errors import MinimaxError
from minimax_cli.tasks.spec import TaskSpec
from tests.fakes import FakeEngine

MODEL = {"name": "fake", "engine": "fake", "path": None, "quant": "none", "dtype": "auto", "device": "cpu"}
DEFAULTS = GenerationParams(max_new_tokens=16, temperature=0.0, top_p=1.0)
FLAGS = TaskSpec("", max_new_tokens=None)


def chat_line(custom_id, content="Hello", **body):
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "whatever", "messages": [{"role": "user", "content": content}], **body}}


def request_file(tmp_path, *lines):
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_bad_lines_become_bad_request_jobs_and_the_rest_runs(tmp_path):
    (tmp_path / "doc.txt").write_text("The wharf reopened in 1999.")
    path = request_file(
        tmp_path,
        chat_line("c1", max_tokens=5),
        '{"custom_id": "torn", "method": "PO',
        {"method": "POST", "url": "/v1/chat/completions", "body": {"messages": []}},
        chat_line("c1"),
        {**chat_line("e1"), "url": "/v1/embeddings"},
        {**chat_line("g1"), "method": "GET"},
        chat_line("img", [{"type": "image_url", "image_url": {"url": "http://x"}}]),
        {"custom_id": "t1", "task": "summarize", "input": "doc.txt", "lenght": "short"},
        {"custom_id": "t2", "task": "ask", "input": "doc.txt", "question": "When?"},
        {"custom_id": "t3", "task": "dance", "input": "doc.txt"},
    )
    jobs = read_requests(path, FLAGS)
    problems = {job.label: job.problem.message for job in jobs if job.problem}
    assert [job.label for job in jobs if not job.problem] == ["c1", "t2"]
    assert set(problems) == {"line-2", "line-3", "line-4", "e1", "g1", "img", "t1", "t3"}
    assert "not a JSON line" in problems["line-2"]
    assert "no custom_id" in problems["line-3"]
    assert "duplicate custom_id 'c1' (first on line 1)" in problems["line-4"]
    assert "/v1/embeddings" in problems["e1"] and "GET" in problems["g1"] and "image_url" in problems["img"]
    assert "lenght" in problems["t1"] and "dance" in problems["t3"]
    assert {job.problem.code.value for job in jobs if job.problem} == {"bad_request"}
    ask = next(job for job in jobs if job.label == "t2")
    assert ask.input == str(tmp_path / "doc.txt") and ask.spec.questions == ("When?",)


@pytest.mark.parametrize("order", ["ask_first", "ask_last"])
def test_an_id_an_ask_line_expands_to_is_a_duplicate_too(tmp_path, order):
    """`a` with two questions writes records `a#q1` and `a#q2`: a line of its own named `a#q1`,
    before or after it, must not make a second record under that id; the later line is refused."""
    (tmp_path / "doc.txt").write_text("The wharf reopened in 1999.")
    ask = {"custom_id": "a", "task": "ask", "input": "doc.txt", "questions": ["When?", "Where?"]}
    lines = [ask, chat_line("a#q1"), chat_line("b")]
    if order == "ask_last":
        lines = [chat_line("a#q1"), ask, chat_line("b")]
    jobs = read_requests(request_file(tmp_path, *lines), FLAGS)
    ids = [cid for job in jobs for cid in job.custom_ids]
    assert len(ids) == len(set(ids)), ids
    problems = {job.label: job.problem for job in jobs if job.problem}
    if order == "ask_first":
        assert [job.custom_ids for job in jobs if not job.problem] == [("a#q1", "a#q2"), ("b",)]
        assert set(problems) == {"line-2"}
        assert "duplicate custom_id 'a#q1' (first on line 1" in problems["line-2"].message
    else:
        assert [job.custom_ids for job in jobs if not job.problem] == [("a#q1",), ("b",)]
        assert set(problems) == {"a"}
        assert "duplicate custom_id 'a#q1' (first on line 1)" in problems["a"].message
    assert {problem.code.value for problem in problems.values()} == {"bad_request"}


def test_chat_round_trip_in_the_openai_shape(tmp_path):
    path = request_file(
        tmp_path,
        chat_line("c1", [{"type": "text", "text": "Say"}, {"type": "text", "text": "hi"}], max_completion_tokens=3,
                  temperature=0.5, seed=7, stop=["\n"]),
        {"custom_id": "c2", "url": "/v1/chat/completions",
         "body": {"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}},
    )
    engine = FakeEngine(lambda messages: "hello there friend and more")
    engine.default_params = DEFAULTS  # what open_engine sets from the preset
    jobs = plan_batch(read_requests(path, FLAGS), [], MODEL, DEFAULTS).pending
    first, second = (execute(job, lambda: engine)[0] for job in jobs)
    assert engine.calls[0] == [Message("user", "Say\nhi")]
    assert engine.params[0] == GenerationParams(max_new_tokens=3, temperature=0.5, top_p=1.0, seed=7, stop=("\n",))
    assert engine.calls[1][0] == Message("system", "Be brief.") and engine.params[1].max_new_tokens == 16
    assert first["custom_id"] == "c1" and first["error"] is None and first["response"]["status_code"] == 200
    body = first["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "fake" and body["id"].startswith("chatcmpl-")
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "hello there friend"},
                                "finish_reason": "length"}]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert len(body["fingerprint"]) == 64
    assert second["response"]["body"]["choices"][0]["finish_reason"] == "stop"


def test_flags_give_chat_defaults_and_change_the_fingerprint(tmp_path):
    path = request_file(tmp_path, chat_line("c1"))
    plain = plan_batch(read_requests(path, FLAGS), [], MODEL, DEFAULTS).pending[0]
    capped = plan_batch(read_requests(path, TaskSpec("", max_new_tokens=4)), [], MODEL, DEFAULTS).pending[0]
    assert capped.spec.params(DEFAULTS).max_new_tokens == 4
    assert plain.fingerprints != capped.fingerprints


def test_the_same_body_in_another_key_order_has_the_same_fingerprint(tmp_path):
    one = request_file(tmp_path, chat_line("c1", max_tokens=5, temperature=0))
    [a] = plan_batch(read_requests(one, FLAGS), [], MODEL, DEFAULTS).pending
    line = chat_line("c1", max_tokens=5, temperature=0)
    line["body"] = dict(reversed(list(line["body"].items())))
    [b] = plan_batch(read_requests(request_file(tmp_path, line), FLAGS), [], MODEL, DEFAULTS).pending
    assert a.fingerprints == b.fingerprints


@pytest.mark.parametrize("body, message", [
    ({"messages": [{"role": "assistant", "content": "Hi"}]}, "last message must be the user's"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role must be one of"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n must be 1"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens must be at least 1"),
    ({"messages": [{"role": "user", "content": "x"}], "top_p": 0}, "top_p must be above 0"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, "tools is not supported"),
    ({"messages": [{"role": "user", "content": 3}]}, "content must be a string"),
    ("text", "body must be a JSON object"),
])
def test_chat_bodies_that_cannot_be_honoured_are_refused(body, message):
    with pytest.raises(MinimaxError, match=message):
        ChatSpec.from_body(body)


def test_hostile_lines_are_error_records_for_that_line_only(tmp_path, monkeypatch):
    """A lone surrogate escape, JSON nested 200,000 deep, and a line over the cap (refused before
    it is parsed) each refuse their own line; the good line still runs."""
    import minimax_cli.batch.requests as requests

    monkeypatch.setattr(requests, "MAX_LINE_BYTES", 500_000)
    good = json.dumps({"custom_id": "ok", "body": {"messages": [{"role": "user", "content": "Hi"}]},
                       "method": "POST", "url": "/v1/chat/completions"})
    surrogate = good.replace('"ok"', '"s"').replace('"Hi"', '"Hi \\ud800"')
    deep = '{"custom_id": "deep", "body": ' + "[" * 200_000 + "]" * 200_000 + "}"
    big = json.dumps({"custom_id": "big", "body": "x" * 600_000})
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join([surrogate, deep, big, good]) + "\n")
    jobs = read_requests(path, TaskSpec(""))
    problems = {job.custom_ids[0]: job.problem for job in jobs}
    assert problems["ok"] is None
    assert problems["s"].code.value == "bad_request" and "surrogate" in problems["s"].message
    assert problems["line-2"].code.value == "bad_request" and "deeply" in problems["line-2"].message
    assert problems["line-3"].code.value == "too_large"
