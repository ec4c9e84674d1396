"""`minimax batch --ray` on a local Ray cluster of 2 CPUs started here, with 2 replicas of the
synthetic `tiny` checkpoint: the same records as a local run, a replica killed mid-run loses
nothing, a job that kills replicas past the retries is an error line, a run with no replica left
stops, and a driver killed mid-run leaves a file that a rerun completes. Replicas die by test-only
subclasses of `Replica` whose process exits where a node loss or the OOM killer would end it."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray", reason="the Ray tests need Ray: pip install 'minimax-cli[ray]'")

from minimax_cli.batch import cluster as batch_ray  # noqa: E402  (needs ray)
from minimax_cli.cli.app import app  # noqa: E402
from minimax_cli.cli.exit import ExitStatus  # noqa: E402
from minimax_cli.records import read_records  # noqa: E402
from tests.batch.test_end_to_end import small_folder as folder  # noqa: E402

TINY = ["-m", "tiny", "--max-new-tokens", "4"]
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster():
    """The address of a Ray cluster of 2 CPUs on this machine; this process is its driver too."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 << 20, log_to_driver=False,
             logging_level=logging.ERROR)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def batch(*args):
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def results(path: Path) -> dict[str, tuple]:
    """custom_id -> (status, result, fingerprint) of each line; each custom_id must have one."""
    records = read_records(path)
    assert len({x["custom_id"] for x in records}) == len(records)
    return {x["custom_id"]: (x["response"]["status_code"],
                             x["error"]["code"] if x["error"] else x["response"]["body"]["result"],
                             (x["error"] or x["response"]["body"])["fingerprint"]) for x in records}


def test_the_same_records_as_a_local_run(tmp_path, cluster):
    docs = folder(tmp_path, 5)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF\n")
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    r = batch(docs, "--task", "summarize", *TINY, "-o", local)
    assert r.exit_code == ExitStatus.PARTIAL, r.output
    r = batch(docs, "--task", "summarize", *TINY, "--ray", cluster, "--ray-replicas", 2, "-o", on_ray)
    assert r.exit_code == ExitStatus.PARTIAL, r.output
    assert results(on_ray) == results(local)  # statuses, texts and fingerprints
    assert results(on_ray)["broken.pdf"][:2] == (400, "corrupt")
    assert "starting 2 replica(s) of tiny, 1 CPU(s) each" in r.stderr
    assert " ok doc00.txt " in r.stderr and " on replica " in r.stderr  # a line per document, naming its replica

    before = on_ray.read_bytes()
    r = batch(docs, "--task", "summarize", *TINY, "--ray", cluster, "-o", on_ray)
    assert r.exit_code == ExitStatus.OK, r.output
    assert on_ray.read_bytes() == before and "Ray cluster" not in r.stderr  # nothing to do: no replica started


class DiesOnce(batch_ray.Replica):
    """A replica whose process exits, as if killed for memory, in the middle of doc03.txt the
    first time any replica runs it."""

    def run(self, job):
        marker = Path(job.input).parent.parent / "died"
        if job.label == "doc03.txt" and not marker.exists():
            marker.touch()
            os._exit(1)
        return super().run(job)


class DyingRunner(batch_ray.RayRunner):
    replica_class = DiesOnce


def test_a_replica_killed_mid_run_loses_nothing(tmp_path, cluster, monkeypatch):
    docs = folder(tmp_path, 6)
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(batch_ray, "RayRunner", DyingRunner)
    r = batch(docs, "--task", "summarize", *TINY, "--ray", cluster, "--ray-replicas", 2, "-o", out)
    assert r.exit_code == ExitStatus.OK, r.output
    assert (tmp_path / "died").exists() and "died: ActorDiedError" in r.stderr and "back in the queue" in r.stderr
    assert sorted(results(out)) == [f"doc{n:02d}.txt" for n in range(6)]  # each exactly once
    assert all(status == 200 for status, _, _ in results(out).values())


class KillsEveryReplica(batch_ray.Replica):
    """A replica whose process exits whenever it runs doc01.txt."""

    def run(self, job):
        if job.label == "doc01.txt":
            os._exit(1)
        return super().run(job)


class KillingRunner(batch_ray.RayRunner):
    replica_class = KillsEveryReplica


def test_a_job_that_kills_its_replicas_past_the_retries_is_an_error_line(tmp_path, cluster, monkeypatch):
    docs = folder(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(batch_ray, "RayRunner", KillingRunner)
    r = batch(docs, "--task", "summarize", *TINY, "--ray", cluster, "--ray-replicas", 2, "--ray-retries", 0,
              "-o", out)
    assert r.exit_code == ExitStatus.PARTIAL, r.output
    records = {x["custom_id"]: x for x in read_records(out)}
    assert sorted(records) == ["doc00.txt", "doc01.txt", "doc02.txt"]
    error = records["doc01.txt"]["error"]
    assert error["code"] == "model_error" and error["message"].startswith("replica died 1 time(s)")
    assert records["doc01.txt"]["response"]["status_code"] == 500  # not settled: a rerun tries it again


class DiesLoading(batch_ray.Replica):
    def load(self):
        os._exit(1)


class DeadRunner(batch_ray.RayRunner):
    replica_class = DiesLoading


def test_with_every_replica_dead_the_run_stops_with_exit_1(tmp_path, cluster, monkeypatch):
    docs = folder(tmp_path, 2)
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(batch_ray, "RayRunner", DeadRunner)
    r = batch(docs, "--task", "summarize", *TINY, "--ray", cluster, "--ray-replicas", 2, "-o", out)
    assert r.exit_code == ExitStatus.ERROR, r.output
    assert "every Ray replica died; 2 job(s) not run" in r.stderr and read_records(out) == []


def test_a_driver_killed_mid_run_then_rerun_writes_each_custom_id_once(tmp_path, cluster):
    docs = folder(tmp_path, 10)
    out = tmp_path / "results.jsonl"
    args = [str(docs), "--task", "summarize", *TINY, "--ray", cluster, "--ray-replicas", "2", "-o", str(out)]
    driver = subprocess.Popen([sys.executable, "-m", "minimax_cli", "batch", *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while driver.poll() is None and time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    written = len(read_records(out))
    assert 0 < written < 10  # the kill came mid-run
    r = batch(*args)  # Ray ends the dead driver's replicas; the rerun starts its own
    assert r.exit_code == ExitStatus.OK, r.output
    data = out.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]  # every line parses: no torn line left
    assert sorted(x["custom_id"] for x in records) == [f"doc{n:02d}.txt" for n in range(10)]
    assert all(x["error"] is None for x in records)
