"""`minimax batch` end to end on the synthetic `tiny` MiniMax checkpoint: a folder of mixed
documents, reruns, changed inputs, kill -9 at random moments, the lock, a request file, the dry
run, and model replicas in child processes."""

import fcntl
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pypdf import PdfWriter
from typer.testing import CliRunner

from minimax_cli.batch.jobs import folder_jobs
from minimax_cli.batch.resume import latest_records, model_identity, plan_batch
from minimax_cli.batch.run import run_batch
from minimax_cli.batch.output import BatchOutput
from minimax_cli.batch.replicas import ReplicaPool
from minimax_cli.cli.app import app
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.tasks.spec import TaskSpec
from minimax_cli.records import read_records

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TINY = ["-m", "tiny", "--max-new-tokens", "4"]
runner = CliRunner()


def batch(*args):
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def mixed_folder(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    (docs / "book.txt").write_bytes((SAMPLES / "book.txt").read_bytes())
    (docs / "book.pdf").write_bytes((SAMPLES / "book.pdf").read_bytes())
    (docs / "notes.md").write_text("# Notes\n\nThe wharf reopened in 1999. Everyone came.\n")
    writer = PdfWriter(clone_from=SAMPLES / "book.pdf")
    writer.encrypt("secret")
    writer.write(docs / "locked.pdf")
    (docs / "blob.bin").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (docs / "empty.txt").write_text("")
    return docs


def small_folder(root: Path, count: int) -> Path:
    docs = root / "docs"
    docs.mkdir()
    for n in range(count):
        (docs / f"doc{n:02d}.txt").write_text(f"Note {n}. The keeper lit lamp {n} at dusk.\n")
    return docs


def outcome(record: dict) -> str:
    return record["error"]["code"] if record["error"] else "ok"


def test_mixed_folder_rerun_and_one_changed_input(tmp_path):
    docs = mixed_folder(tmp_path)
    out = tmp_path / "results.jsonl"
    r = batch(docs, "--task", "summarize", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.PARTIAL, r.output
    records = read_records(out)
    assert {x["custom_id"]: outcome(x) for x in records} == {
        "blob.bin": "binary", "book.pdf": "ok", "book.txt": "ok", "empty.txt": "empty",
        "locked.pdf": "encrypted", "notes.md": "ok"}
    assert "[1/6] failed blob.bin" in r.stderr and "ok book.pdf" in r.stderr
    assert r.stderr.splitlines()[-1].startswith("done 3, failed 3, skipped 0,")

    before = out.read_bytes()
    r = batch(docs, "--task", "summarize", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.OK, r.output
    assert out.read_bytes() == before  # nothing new: successes and input failures are settled
    assert r.stderr.splitlines()[-1].startswith("done 0, failed 0, skipped 6 (3 failed before")

    (docs / "notes.md").write_text("# Notes\n\nThe wharf reopened in 2001.\n")
    r = batch(docs, "--task", "summarize", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.OK, r.output
    new = read_records(out)[len(records):]
    assert [x["custom_id"] for x in new] == ["notes.md"] and outcome(new[0]) == "ok"
    latest = latest_records(read_records(out))["notes.md"]  # the last line per custom_id is current
    sha256 = hashlib.sha256((docs / "notes.md").read_bytes()).hexdigest()
    assert latest["response"]["body"]["source"]["sha256"] == sha256


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_kill_9_at_random_moments_then_every_custom_id_exactly_once(tmp_path, concurrency):
    """With one document at a time, and with four in flight through the scheduler's rows."""
    docs = small_folder(tmp_path, 12)
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "minimax_cli", "batch", str(docs), "--task", "summarize", *TINY,
               "--concurrency", concurrency, "-o", str(out)]
    rng = random.Random(20261122 + int(concurrency))
    for trial in range(4):
        lines = out.read_bytes().count(b"\n") if out.exists() else 0
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        # Start the clock at this run's first record, so that the kill lands while records are written.
        while proc.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") > lines:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        read_records(out)  # whole lines, perhaps a torn last one
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == ExitStatus.OK, done.stderr
    data = out.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]  # every line parses: no torn line left
    ids = [x["custom_id"] for x in records]
    assert sorted(ids) == sorted(f"doc{n:02d}.txt" for n in range(12))  # each exactly once
    assert all(x["error"] is None for x in records)


def test_a_second_run_on_a_locked_output_exits_5_and_writes_nothing(tmp_path):
    docs = small_folder(tmp_path, 2)
    out = tmp_path / "results.jsonl"
    out.write_text('{"custom_id": "earlier", "error": null}\n')
    before = out.read_bytes()
    with open(out, "rb") as held:  # what a running batch holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = batch(docs, "--task", "summarize", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.LOCKED
    assert r.stderr.count("\n") == 1 and "another minimax batch run" in r.stderr
    assert out.read_bytes() == before


def test_request_file_round_trip_with_malformed_lines(tmp_path):
    (tmp_path / "notes.md").write_text("The wharf reopened in 1999. Everyone came.\n")
    chat = {"custom_id": "chat-1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                     "max_tokens": 5, "temperature": 0}}
    lines = [
        json.dumps(chat),
        json.dumps({"custom_id": "ask-1", "task": "ask", "input": "notes.md", "questions": ["When?", "Who came?"]}),
        "{not json",
        json.dumps({**chat, "custom_id": None}),
        json.dumps(chat),
        json.dumps({**chat, "custom_id": "emb-1", "url": "/v1/embeddings"}),
        json.dumps({"custom_id": "sum-1", "task": "summarize", "input": "missing.txt"}),
    ]
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.jsonl"
    r = batch(requests, *TINY, "-o", out)
    assert r.exit_code == ExitStatus.PARTIAL, r.output
    records = {x["custom_id"]: x for x in read_records(out)}
    assert {cid: outcome(x) for cid, x in records.items()} == {
        "chat-1": "ok", "ask-1#q1": "ok", "ask-1#q2": "ok", "line-3": "bad_request", "line-4": "bad_request",
        "line-5": "bad_request", "emb-1": "bad_request", "sum-1": "not_found"}
    body = records["chat-1"]["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "tiny"
    assert body["choices"][0]["message"]["role"] == "assistant" and body["choices"][0]["index"] == 0
    assert body["usage"]["completion_tokens"] <= 5
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert records["ask-1#q2"]["response"]["body"]["result"]["question"] == "Who came?"
    assert records["line-5"]["error"]["message"] == "duplicate custom_id 'chat-1' (first on line 1)"
    assert {x["response"]["status_code"] for x in records.values() if x["error"]} == {400}

    before = out.read_bytes()
    r = batch(requests, *TINY, "-o", out)
    assert r.exit_code == ExitStatus.PARTIAL  # the missing input is looked for again, nothing else runs
    assert [x["custom_id"] for x in read_records(out)[len(records):]] == ["sum-1"]
    assert out.read_bytes().startswith(before)


def test_dry_run_plans_without_writing_and_caches_the_measured_speed(tmp_path, monkeypatch):
    import minimax_cli.batch.estimate as estimate
    import minimax_cli.engine.factory as factory

    monkeypatch.setattr(estimate, "cache_dir", lambda: tmp_path / "cache")
    docs = small_folder(tmp_path, 2)
    (docs / "book.txt").write_bytes((SAMPLES / "book.txt").read_bytes())
    (docs / "empty.txt").write_text("")
    out = tmp_path / "results.jsonl"
    r = batch(docs, "--task", "summarize", "--dry-run", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.OK, r.output
    assert not out.exists()
    rows = {line.split()[1]: line for line in r.stdout.splitlines()[:-1]}
    assert rows["book.txt"].startswith("run") and "one pass" in rows["book.txt"] and "tokens" in rows["book.txt"]
    assert rows["empty.txt"].startswith("error") and "(empty)" in rows["empty.txt"]
    assert "measured now" in r.stdout.splitlines()[-1]
    assert (tmp_path / "cache" / "speed.json").exists()

    def no_weights(*args, **kwargs):
        raise AssertionError("a dry run with a cached speed loaded the model")

    monkeypatch.setattr(factory, "open_engine", no_weights)
    r = batch(docs, "--task", "summarize", "--dry-run", *TINY, "-o", out)
    assert r.exit_code == ExitStatus.OK, r.output
    assert "measured on this machine" in r.stdout and "speed.json" in r.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without GPUs")
def test_replicas_are_refused_without_gpus(tmp_path):
    r = batch(small_folder(tmp_path, 1), "--task", "summarize", *TINY, "--replicas", "2", "-o", tmp_path / "o.jsonl")
    assert r.exit_code == ExitStatus.USAGE and "--replicas needs GPUs" in r.stderr


def test_two_replicas_in_child_processes_each_job_once(tmp_path):
    """The replica pool on the CPU (the CLI offers it only with GPUs): two child processes, each
    loading the model, the parent alone writing the results file."""
    docs = small_folder(tmp_path, 4)
    identity, defaults = model_identity("tiny", None)
    plan = plan_batch(folder_jobs(docs, TaskSpec("summarize", max_new_tokens=4)), [], identity, defaults)
    out = tmp_path / "results.jsonl"
    pool = ReplicaPool("tiny", None, [None, None])
    processes = []
    try:
        with BatchOutput(out) as output:
            result = run_batch(plan, output, pool)
        processes = [r.process for r in pool.replicas]
    finally:
        pool.close()
    assert (result.done, result.failed) == (4, 0)
    assert len(processes) == 2 and all(p.returncode == 0 for p in processes)  # ended when the pool closed
    records = read_records(out)
    assert sorted(x["custom_id"] for x in records) == [f"doc{n:02d}.txt" for n in range(4)]
    expected = {job.custom_ids[0]: job.fingerprints[0] for job in plan.pending}
    assert all(x["response"]["body"]["fingerprint"] == expected[x["custom_id"]] for x in records)
    assert {x["response"]["body"]["model"]["name"] for x in records} == {"tiny"}


def test_documents_in_flight_together_give_the_one_at_a_time_records(tmp_path):
    """--concurrency 4 runs four documents through one engine at once (their calls share the
    scheduler's rows): each custom_id once, and the same answers as one document at a time.

    One new token each: it comes from the document's own prefill, which no other row touches, so
    it must match exactly. Later tokens come from batched decode steps, whose sums run in another
    order than one row's; on this random checkpoint that flipped a near-tied token in 1 of 10
    documents once. Token-exact batched decoding is tested on the runner (engine/hybrid/test_rows.py)."""
    docs = small_folder(tmp_path, 10)
    answers = {}
    for n in (1, 4):
        out = tmp_path / f"results-{n}.jsonl"
        r = batch(docs, "--task", "summarize", "-m", "tiny", "--max-new-tokens", "1", "--concurrency", n, "-o", out)
        assert r.exit_code == ExitStatus.OK, r.output
        records = read_records(out)
        assert sorted(x["custom_id"] for x in records) == sorted(p.name for p in docs.iterdir())
        answers[n] = {x["custom_id"]: (x["response"]["body"]["result"], x["response"]["body"]["usage"]["completion_tokens"])
                      for x in records}
    assert answers[4] == answers[1]


def test_concurrency_is_refused_with_replicas(tmp_path):
    r = batch(small_folder(tmp_path, 2), "--task", "summarize", *TINY, "--concurrency", 2, "--replicas", 2,
              "-o", tmp_path / "out.jsonl")
    assert r.exit_code == ExitStatus.USAGE and "--concurrency" in r.stderr
    assert not (tmp_path / "out.jsonl").exists()
