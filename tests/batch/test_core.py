"""The batch core without a model: jobs from a folder, fingerprints and the resume rule, the locked
results file, and the run loop with a scripted engine."""

import fcntl
import json
import os

import pytest
import torch

from minimax_cli.batch.jobs import Job, folder_jobs
from minimax_cli.batch.resume import job_fingerprints, latest_records, plan_batch
from minimax_cli.batch.run import Finished, execute, run_batch
from minimax_cli.batch.output import BatchOutput, OutputLocked
from minimax_cli.engine.base import GenerationParams
from minimax_cli.tasks.spec import TaskSpec
from minimax_cli.records import read_records
from tests.fakes import FakeEngine

MODEL = {"name": "fake", "engine": "fake", "path": None, "quant": "none", "dtype": "auto", "device": "cpu"}
DEFAULTS = GenerationParams(max_new_tokens=8)
SUMMARIZE = TaskSpec("summarize", max_new_tokens=8)


class InProcess:
    """A runner over a scripted engine."""

    def __init__(self, engine):
        self.engine = engine

    def run(self, jobs):
        for job in jobs:
            yield Finished(job, execute(job, lambda: self.engine), 0.01)

    def close(self):
        pass


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path, jobs, engine, force=False):
    out = tmp_path / "out.jsonl"
    with BatchOutput(out) as output:
        plan = plan_batch(jobs, output.records(), MODEL, DEFAULTS, force)
        result = run_batch(plan, output, InProcess(engine))
    return result, read_records(out)


# ---- jobs from a folder -----------------------------------------------------------------------------

def test_folder_jobs_globs_excludes_hidden_and_the_results_file(tmp_path):
    for rel in ("a.txt", "b.pdf", "sub/c.txt", "drafts/d.txt", ".hidden.txt", ".git/config", "x.tmp", "out.jsonl"):
        write(tmp_path / rel, "text")
    jobs = folder_jobs(tmp_path, SUMMARIZE, excludes=["drafts/", "*.tmp"], leave_out=[tmp_path / "out.jsonl"])
    assert [j.label for j in jobs] == ["a.txt", "b.pdf", "sub/c.txt"]
    assert jobs[2].custom_ids == ("sub/c.txt",) and jobs[2].input == str(tmp_path / "sub" / "c.txt")
    only = folder_jobs(tmp_path, SUMMARIZE, globs=["*.txt"], excludes=["sub/"])
    assert [j.label for j in only] == ["a.txt", "drafts/d.txt"]


def test_ask_with_several_questions_is_one_job_with_a_custom_id_per_question(tmp_path):
    write(tmp_path / "a.txt", "text")
    [job] = folder_jobs(tmp_path, TaskSpec("ask", questions=("Who?", "When?")))
    assert job.custom_ids == ("a.txt#q1", "a.txt#q2")
    [single] = folder_jobs(tmp_path, TaskSpec("ask", questions=("Who?",)))
    assert single.custom_ids == ("a.txt",)


# ---- fingerprints -------------------------------------------------------------------------------------

def test_fingerprint_changes_with_input_prompt_model_and_settings(tmp_path):
    doc = write(tmp_path / "a.txt", "one")
    job = Job(("a.txt",), "a.txt", SUMMARIZE, str(doc))
    base = job_fingerprints(job, MODEL, DEFAULTS)
    assert base == job_fingerprints(job, dict(MODEL), DEFAULTS)  # stable
    prompts = write(tmp_path / "prompts" / "summarize_single.txt", "Summarise: $document ($words words)")

    def with_spec(spec):
        return job_fingerprints(Job(("a.txt",), "a.txt", spec, str(doc)), MODEL, DEFAULTS)

    changed = [
        job_fingerprints(job, {**MODEL, "quant": "int8"}, DEFAULTS),
        with_spec(TaskSpec("summarize", max_new_tokens=9)),
        with_spec(TaskSpec("summarize", max_new_tokens=8, prompt_dirs=(prompts.parent,))),
        with_spec(TaskSpec("summarize", max_new_tokens=8, chapters=True)),
    ]
    assert all(fp != base for fp in changed)
    doc.write_text("two")
    assert job_fingerprints(job, MODEL, DEFAULTS) != base


def test_unreadable_input_has_no_fingerprint_and_always_runs(tmp_path):
    job = Job(("gone.txt",), "gone.txt", SUMMARIZE, str(tmp_path / "gone.txt"))
    assert job_fingerprints(job, MODEL, DEFAULTS) == (None,)


# ---- resume ---------------------------------------------------------------------------------------------

def test_rerun_skips_successes_and_input_failures_redoes_changed(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "a.txt", "The wharf reopened in 1999.")
    write(docs / "b.txt", "Marta kept the light.")
    write(docs / "empty.txt", "")
    engine = FakeEngine(lambda messages: "A summary.")
    first, records = run(tmp_path, folder_jobs(docs, SUMMARIZE), engine)
    assert (first.done, first.failed, first.skipped) == (2, 1, 0)
    assert [(r["custom_id"], (r["error"] or {}).get("code")) for r in records] == [
        ("a.txt", None), ("b.txt", None), ("empty.txt", "empty")]
    assert all(len(r["response"]["body"]["fingerprint"]) == 64 for r in records[:2])
    assert len(records[2]["error"]["fingerprint"]) == 64

    again, records2 = run(tmp_path, folder_jobs(docs, SUMMARIZE), engine)
    assert (again.done, again.failed, again.skipped, again.skipped_failures) == (0, 0, 3, 1)
    assert records2 == records

    write(docs / "b.txt", "Marta kept the light for forty years.")
    changed, records3 = run(tmp_path, folder_jobs(docs, SUMMARIZE), engine)
    assert (changed.done, changed.skipped) == (1, 2)
    assert [r["custom_id"] for r in records3[3:]] == ["b.txt"]
    latest = latest_records(records3)
    assert latest["b.txt"]["response"]["body"]["source"]["sha256"] != records[1]["response"]["body"]["source"]["sha256"]

    forced, records4 = run(tmp_path, folder_jobs(docs, SUMMARIZE), engine, force=True)
    assert (forced.done, forced.failed, forced.skipped) == (2, 1, 0) and len(records4) == 7


def test_model_failures_are_retried_and_the_batch_goes_on(tmp_path):
    docs = tmp_path / "docs"
    for name in ("a.txt", "b.txt", "c.txt"):
        write(docs / name, f"Document {name}.")

    def flaky(messages):
        if "b.txt" in messages[-1].content:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if "c.txt" in messages[-1].content:
            raise RuntimeError("device-side assert")
        return "A summary."

    first, records = run(tmp_path, folder_jobs(docs, SUMMARIZE), FakeEngine(flaky))
    assert (first.done, first.failed) == (1, 2)
    errors = {r["custom_id"]: r for r in records if r["error"]}
    assert errors["b.txt"]["error"]["code"] == "out_of_memory"
    assert errors["c.txt"]["error"]["code"] == "model_error" and "RuntimeError" in errors["c.txt"]["error"]["message"]
    assert {r["response"]["status_code"] for r in errors.values()} == {500}

    retry, records2 = run(tmp_path, folder_jobs(docs, SUMMARIZE), FakeEngine(lambda m: "Fine now."))
    assert (retry.done, retry.failed, retry.skipped) == (2, 0, 1)
    assert all(not r["error"] for r in latest_records(records2).values())


def test_only_unanswered_questions_run_again(tmp_path):
    write(tmp_path / "docs" / "a.txt", "The wharf reopened in 1999.")
    answer = json.dumps({"answer": "In 1999.", "citations": []})
    engine = FakeEngine(lambda messages: answer)
    jobs = folder_jobs(tmp_path / "docs", TaskSpec("ask", questions=("When?", "Who?"), max_new_tokens=8))
    run(tmp_path, jobs, engine)
    more = folder_jobs(tmp_path / "docs", TaskSpec("ask", questions=("When?", "Who?", "Why?"), max_new_tokens=8))
    result, records = run(tmp_path, more, engine)
    assert (result.done, result.skipped) == (1, 2)
    assert [r["custom_id"] for r in records] == ["a.txt#q1", "a.txt#q2", "a.txt#q3"]
    assert records[2]["response"]["body"]["result"]["question"] == "Why?"


def test_an_unreadable_document_never_loads_the_model(tmp_path):
    write(tmp_path / "docs" / "empty.txt", "")

    def no_model():
        raise AssertionError("the model was loaded")

    [job] = plan_batch(folder_jobs(tmp_path / "docs", SUMMARIZE), [], MODEL, DEFAULTS).pending
    [record] = execute(job, no_model)
    assert record["error"]["code"] == "empty"


# ---- the results file --------------------------------------------------------------------------------

def test_a_second_holder_is_refused_and_the_kernel_releases_the_lock(tmp_path):
    out = tmp_path / "out.jsonl"
    with BatchOutput(out) as first:
        first.append({"custom_id": "a", "error": None})
        with pytest.raises(OutputLocked):
            BatchOutput(out).__enter__()
    with BatchOutput(out) as again:  # free once the holder closed it
        again.append({"custom_id": "b", "error": None})
    assert [r["custom_id"] for r in read_records(out)] == ["a", "b"]


def test_a_torn_last_line_is_cut_before_appending(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"custom_id": "a", "error": null}\n{"custom_id": "b", "resp')
    with BatchOutput(out) as output:
        assert output.repaired_bytes == len(b'{"custom_id": "b", "resp')
        output.append({"custom_id": "b", "error": None})
    assert out.read_bytes().count(b"\n") == 2
    assert [r["custom_id"] for r in read_records(out)] == ["a", "b"]


def test_each_record_is_one_write(tmp_path, monkeypatch):
    calls = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(bytes(data)) or real_write(fd, data))
    with BatchOutput(tmp_path / "out.jsonl") as output:
        output.append({"custom_id": "a", "text": "x" * 100_000})
    assert len(calls) == 1 and calls[0].endswith(b"\n")


def test_lock_is_flock_on_the_results_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.touch()
    with open(out) as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputLocked, match="another minimax batch run"):
            BatchOutput(out).__enter__()
