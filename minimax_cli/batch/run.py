"""The one driver loop: a job's records (`execute`), what a failure becomes, where jobs run
(`Runner`: here, replicas, Ray) and `run_batch`, which appends each finished job's records.

Nothing here prints: progress goes through a `Progress`, each finished job through `on_outcome`,
and `run_batch` returns the counts the CLI reports.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import chain
from time import perf_counter
from typing import Protocol

from minimax_cli.batch.jobs import Job
from minimax_cli.batch.output import BatchOutput
from minimax_cli.batch.requests import ChatSpec
from minimax_cli.batch.resume import BatchPlan
from minimax_cli.engine.base import Engine
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.records import Record, envelope, error_record
from minimax_cli.sources import load_document

MAX_CONCURRENCY = 256  # documents in flight at most, whatever the engine could take


def execute(job: Job, engine: Callable[[], Engine], progress: Progress = NULL_PROGRESS) -> list[dict]:
    """The records of one job: successes, or an error line per custom_id. A document's own failure
    (unreadable input, model error, out of memory) is its error line and the batch goes on; only
    `engine()`, called once the input has been read, may raise: a model that cannot load stops the
    batch, and an unreadable document never loads it."""
    try:
        doc = None if isinstance(job.spec, ChatSpec) else load_document(job.input)
    except MinimaxError as exc:
        return failure_records(job, exc)
    model = engine()
    try:
        if doc is None:
            records = [envelope(job.custom_ids[0], 200, job.spec.run(model, progress), None)]
        else:
            records = [record for record, _ in job.spec.records(list(job.custom_ids), doc, model, progress)]
        return _stamped(records, job)
    except MinimaxError as exc:
        return failure_records(job, exc)
    except Exception as exc:  # an engine failure on this document only: recorded, then the next one
        return failure_records(job, engine_failure(exc, job.input))


def failure_records(job: Job, problem: MinimaxError) -> list[dict]:
    """An error line for each custom_id of `job`."""
    return _stamped([error_record(cid, problem) for cid in job.custom_ids], job)


def _stamped(records: list[dict], job: Job) -> list[dict]:
    """The records with their fingerprints: a success's in its body, an error's in its error."""
    for i, (record, fp) in enumerate(zip(records, job.fingerprints)):
        if fp is not None:
            records[i] = Record.from_json(record).stamp(fp).to_json()
    return records


def engine_failure(exc: Exception, path: str | None) -> MinimaxError:
    """An unexpected exception from the engine as a per-document error; CUDA's out-of-memory
    frees the cache so that the next, perhaps smaller, document can run."""
    torch = sys.modules.get("torch")
    if isinstance(exc, MemoryError) or (torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)):
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        return MinimaxError(ErrorCode.OUT_OF_MEMORY, f"out of memory: {exc}".splitlines()[0], path)
    return MinimaxError(ErrorCode.MODEL_ERROR, f"{type(exc).__name__}: {exc}".splitlines()[0], path)


# ---- running the batch ------------------------------------------------------------------------------


@dataclass
class Finished:
    job: Job
    records: list[dict]
    seconds: float
    where: str | None = None  # which replica ran it, when several do ("replica 2")


class Runner(Protocol):
    """Where jobs run: here (LocalRunner), in model replicas on this machine
    (batch.replicas.ReplicaPool) or on a Ray cluster (batch.cluster.RayRunner)."""

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        """Each job with its records, as jobs finish (not necessarily in the order given)."""
        ...

    def close(self) -> None: ...


class LocalRunner:
    """Jobs in this process through one loaded model, `concurrency` documents at a time (None: the
    engine's `Engine.batch_concurrency`); each job's records come back as it
    finishes. The model is loaded when the first job needs it, with that job alone in flight, so a
    batch with nothing to run (or only unreadable documents) never loads it."""

    def __init__(self, model: str, quant: str | None, load_progress: Progress = NULL_PROGRESS,
                 task_progress: Progress = NULL_PROGRESS, concurrency: int | None = None):
        self.model, self.quant = model, quant
        self.load_progress, self.task_progress = load_progress, task_progress
        self.concurrency = concurrency
        self.engine: Engine | None = None
        self._load_lock = threading.Lock()
        self._load_seconds = 0.0

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        waiting = iter(jobs)
        in_flight: set[Future] = set()
        with ThreadPoolExecutor(max_workers=self.concurrency or MAX_CONCURRENCY,
                                thread_name_prefix="minimax-job") as pool:
            while True:
                while len(in_flight) < self._limit() and (job := next(waiting, None)) is not None:
                    in_flight.add(pool.submit(self._timed, job))
                if not in_flight:
                    return
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()  # raises only when the model cannot load: the batch stops

    def _limit(self) -> int:
        if self.engine is None or not self.engine.takes_concurrent_calls:
            return 1  # an engine without a scheduler is not to be called from two threads
        return min(self.concurrency or self.engine.batch_concurrency, MAX_CONCURRENCY)

    def _timed(self, job: Job) -> Finished:
        started, loaded = perf_counter(), self.engine is not None
        records = execute(job, self._engine, self.task_progress)
        seconds = perf_counter() - started - (0.0 if loaded else self._load_seconds)
        return Finished(job, records, seconds)

    def _engine(self) -> Engine:
        with self._load_lock:
            if self.engine is None:
                from minimax_cli.engine.factory import open_engine

                started = perf_counter()
                self.engine = open_engine(self.model, quant=self.quant, progress=self.load_progress)
                self._load_seconds = perf_counter() - started  # not the first document's time
        return self.engine

    def close(self) -> None:
        self.engine = None


@dataclass
class Outcome:
    """One finished job, for the log: `[3/10] ok docs/a.pdf 12.3s`."""

    number: int
    total: int
    label: str
    ok: bool
    seconds: float
    tokens: int
    error: dict | None = None  # the first error line's error: code, message, path
    where: str | None = None  # which replica ran it, when several do


@dataclass
class BatchResult:
    done: int = 0  # success lines written by this run
    failed: int = 0  # error lines written by this run
    skipped: int = 0  # custom_ids settled by earlier runs
    skipped_failures: int = 0  # of those, input failures: their error lines stand
    tokens: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        failures = f" ({self.skipped_failures} failed before, input unchanged)" if self.skipped_failures else ""
        return (f"done {self.done}, failed {self.failed}, skipped {self.skipped}{failures}, "
                f"tokens {self.tokens}, seconds {self.seconds:.1f}")


def run_batch(plan: BatchPlan, output: BatchOutput, runner: Runner, progress: Progress = NULL_PROGRESS,
              on_outcome: Callable[[Outcome], None] | None = None) -> BatchResult:
    """Run the pending jobs and append their records; refused request lines are written first
    and need no model."""
    started = perf_counter()
    result = BatchResult(skipped=plan.skipped_ids, skipped_failures=plan.skipped_failures)
    refusals = [Finished(job, failure_records(job, job.problem), 0.0) for job in plan.pending
                if job.problem is not None]
    runnable = [job for job in plan.pending if job.problem is None]
    total = len(plan.pending)
    documents = progress.task("documents", total=total, unit="docs")
    tokens = progress.task("tokens", unit="tokens")
    try:
        for number, finished in enumerate(chain(refusals, runner.run(runnable)), 1):
            for record in finished.records:
                output.append(record)
            records = [Record.from_json(record) for record in finished.records]
            outcome = _outcome(finished, records, number, total)
            result.done += sum(1 for r in records if r.error is None)
            result.failed += sum(1 for r in records if r.error is not None)
            result.tokens += outcome.tokens
            documents.advance()
            tokens.advance(outcome.tokens)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        documents.close()
        tokens.close()
    result.seconds = perf_counter() - started
    return result


def _outcome(finished: Finished, records: list[Record], number: int, total: int) -> Outcome:
    errors = [r.error for r in records if r.error is not None]
    tokens = sum(r.total_tokens for r in records)
    return Outcome(number, total, finished.job.label, not errors, finished.seconds, tokens,
                   errors[0].to_json() if errors else None, finished.where)
