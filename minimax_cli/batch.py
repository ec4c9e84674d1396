"""`minimax batch`: many documents or request lines through one loaded model, safe to kill and rerun.

A batch is a list of `Job`s, each writing one record per custom_id: a file of a folder (custom_id:
its path relative to the folder) or a line of a request file (batch_requests.py). Before anything
runs, each custom_id gets a fingerprint, the sha256 of

  - the input: the document's sha256, or for a chat request the sha256 of its canonical JSON body,
  - the prompt templates the task renders (tasks.prompts.task_prompt_sha256),
  - the model as asked for: preset name, engine, checkpoint path, quantization, dtype, and whether
    it runs on CUDA or the CPU (an `auto` dtype means bf16 on one and fp32 on the other),
  - the settings: the task's options and the generation parameters.

The results file is append-only, and the last line for a custom_id is its current result. A
custom_id is settled, and skipped, when that last line has the same fingerprint and is a success or
a failure of the input itself (status 400: encrypted, binary, empty, a bad request line), which
running it again would only repeat. Anything else runs again and appends a new line: no line yet,
a failure of the model or the machine (status 500), a changed input, prompt, model or setting, or
`force`. So an error line followed by a success line is the normal history of a retried document,
and a success line is superseded only when its input or settings changed.

The model is identified without loading it, and documents are read before the model is loaded, so
a rerun with nothing new to do never loads the weights.
Nothing here prints: progress goes through a `Progress`, each finished job through `on_outcome`,
and `run_batch` returns the counts the CLI reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import Protocol

import pathspec

from minimax_cli.batch_output import BatchOutput
from minimax_cli.chat_completions import ChatSpec
from minimax_cli.engine.base import Engine, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.jobs import TaskSpec
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.records import envelope, error_record
from minimax_cli.sources import load_document

# ---- jobs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One document or request line, and the custom_id of each record it writes (ask with several
    questions writes `id#q1`, `id#q2`, ...)."""

    custom_ids: tuple[str, ...]
    label: str  # how log lines name it
    spec: TaskSpec | ChatSpec | None = None  # None for a request line refused as it was read
    input: str | None = None  # a task's document
    body_sha256: str | None = None  # a chat request's canonical body
    problem: MinimaxError | None = None  # why a request line was refused
    fingerprints: tuple[str | None, ...] = ()  # one per custom_id, set by `plan_batch`

    def narrowed(self, keep: list[int]) -> Job:
        """The job for some of its custom_ids only (the questions still to answer)."""
        spec = self.spec
        if isinstance(spec, TaskSpec) and spec.task == "ask":
            spec = replace(spec, questions=tuple(spec.questions[i] for i in keep))
        return replace(self, spec=spec, custom_ids=tuple(self.custom_ids[i] for i in keep),
                       fingerprints=tuple(self.fingerprints[i] for i in keep))


def refused(custom_id: str, problem: MinimaxError, line: bytes) -> Job:
    """A request line that cannot run; keyed on its text, so that it is reported again only
    once it changes."""
    return Job(custom_ids=(custom_id,), label=custom_id, problem=problem,
               fingerprints=(hashlib.sha256(line).hexdigest(),))


def folder_jobs(root: Path, spec: TaskSpec, globs: Iterable[str] = (), excludes: Iterable[str] = (),
                leave_out: Iterable[Path] = ()) -> list[Job]:
    """A job for every file under `root` that matches a glob (all files when none is given) and no
    exclude pattern, in path order. Both use gitignore syntax (`*.pdf` matches at any depth,
    `drafts/` a whole folder). Hidden files and folders (names starting with '.') and the files in
    `leave_out` (the results file) are never jobs; links to files are followed, links to folders not."""
    include = pathspec.GitIgnoreSpec.from_lines(list(globs) or ["*"])
    exclude = pathspec.GitIgnoreSpec.from_lines(list(excludes))
    left_out = {p.resolve() for p in leave_out}
    jobs = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if (name.startswith(".") or not path.is_file() or path.resolve() in left_out
                    or not include.match_file(rel) or exclude.match_file(rel)):
                continue
            jobs.append(Job(custom_ids=tuple(spec.custom_ids(rel)), label=rel, spec=spec, input=str(path)))
    return sorted(jobs, key=lambda job: job.label)


# ---- fingerprints and resume ----------------------------------------------------------------------


def model_identity(model: str, quant: str | None) -> tuple[dict, GenerationParams]:
    """What fingerprints say about the model, and its preset's generation defaults, without loading
    it (MODEL_NOT_FOUND when the preset or path does not resolve)."""
    import torch

    from minimax_cli.engine.factory import resolve_model

    preset = resolve_model(model)
    path = preset.checkpoint_path()
    identity = {
        "name": preset.name, "engine": preset.engine, "path": str(path.resolve()) if path else None,
        "quant": quant or preset.quant, "dtype": preset.dtype,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    return identity, preset.generation.to_params()


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(input_sha256: str, prompt_sha256: str, model: dict, settings: dict) -> str:
    material = {"input": input_sha256, "prompt": prompt_sha256, "model": model, "settings": settings}
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def input_sha256(path: str) -> str | None:
    """The sha256 a document of `path` will have (a folder's is over its files), or None when it
    cannot be read: such a job always runs, to write its error line."""
    target = Path(path)
    try:
        if target.is_dir():
            return load_document(path).sha256
        digest = hashlib.sha256()
        with target.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except (OSError, MinimaxError):
        return None


def job_fingerprints(job: Job, model: dict, defaults: GenerationParams) -> tuple[str | None, ...]:
    """One fingerprint per custom_id of `job` (None where there is nothing to compare)."""
    spec = job.spec
    if isinstance(spec, ChatSpec):
        return (fingerprint(job.body_sha256 or "", "", model, spec.settings(defaults)),)
    sha = input_sha256(job.input) if isinstance(spec, TaskSpec) and job.input else None
    if sha is None:
        return (None,) * len(job.custom_ids)
    settings = {"task": spec.task, **spec.settings(defaults)}
    prompt = spec.prompt_sha256()
    if spec.task == "ask":  # each question's record keys on its own question
        return tuple(fingerprint(sha, prompt, model, {**settings, "question": q}) for q in spec.questions)
    return (fingerprint(sha, prompt, model, settings),)


def record_fingerprint(record: dict) -> str | None:
    """The fingerprint a record was written with (success: in its body; error: in its error)."""
    if record.get("error"):
        return record["error"].get("fingerprint")
    return ((record.get("response") or {}).get("body") or {}).get("fingerprint")


def settled(record: dict | None, fp: str | None) -> bool:
    """Whether `record`, a custom_id's last line, settles it for fingerprint `fp`: a success, or
    a failure of the input itself (status 400: encrypted, binary, empty, bad request ...), which
    the same input, prompt, model and settings would only repeat. Failures of the model or the
    machine (status 500) are not settled: a rerun tries them again."""
    if record is None or fp is None or record_fingerprint(record) != fp:
        return False
    status = (record.get("response") or {}).get("status_code")
    return status == 400 if record.get("error") else status == 200


def latest_records(records: Iterable[dict]) -> dict[str, dict]:
    """The last record of each custom_id: its current result (readers of a results file want
    this too: `jq -s 'group_by(.custom_id) | map(last)'` does the same)."""
    return {record["custom_id"]: record for record in records if isinstance(record.get("custom_id"), str)}


@dataclass
class BatchPlan:
    pending: list[Job]  # to run, narrowed to their unsettled custom_ids
    skipped: list[Job]  # settled in full already
    skipped_ids: int = 0  # custom_ids settled already, of skipped and of partly settled jobs
    skipped_failures: int = 0  # of those, the ones settled by an input failure


def plan_batch(jobs: list[Job], existing: Iterable[dict], model: dict, defaults: GenerationParams,
               force: bool = False) -> BatchPlan:
    """Fingerprint every job and set aside the custom_ids that `existing` records settle."""
    latest = latest_records(existing)
    plan = BatchPlan(pending=[], skipped=[])
    for job in jobs:
        if job.problem is None:
            job = replace(job, fingerprints=job_fingerprints(job, model, defaults))
        todo = []
        for i, (cid, fp) in enumerate(zip(job.custom_ids, job.fingerprints)):
            if force or not settled(latest.get(cid), fp):
                todo.append(i)
            elif latest[cid].get("error"):
                plan.skipped_failures += 1
        plan.skipped_ids += len(job.custom_ids) - len(todo)
        if not todo:
            plan.skipped.append(job)
        else:
            plan.pending.append(job if len(todo) == len(job.custom_ids) else job.narrowed(todo))
    return plan


# ---- running one job ----------------------------------------------------------------------------


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
    for record, fp in zip(records, job.fingerprints):
        if fp is not None:
            (record["error"] or record["response"]["body"])["fingerprint"] = fp
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
    (batch_replicas.ReplicaPool) or on a Ray cluster (batch_ray.RayRunner)."""

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        """Each job with its records, as jobs finish (not necessarily in the order given)."""
        ...

    def close(self) -> None: ...


class LocalRunner:
    """Jobs one at a time in this process, each through the model's whole device map. The model
    is loaded when the first job needs it, so a batch with nothing to run never loads it."""

    def __init__(self, model: str, quant: str | None, load_progress: Progress = NULL_PROGRESS,
                 task_progress: Progress = NULL_PROGRESS):
        self.model, self.quant = model, quant
        self.load_progress, self.task_progress = load_progress, task_progress
        self.engine: Engine | None = None
        self._started = 0.0  # when the current job started

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        for job in jobs:
            self._started = perf_counter()
            records = execute(job, self._engine, self.task_progress)
            yield Finished(job, records, perf_counter() - self._started)

    def _engine(self) -> Engine:
        if self.engine is None:
            from minimax_cli.engine.factory import open_engine

            self.engine = open_engine(self.model, quant=self.quant, progress=self.load_progress)
            self._started = perf_counter()  # loading the model is not the first document's time
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
            outcome = _outcome(finished, number, total)
            result.done += sum(1 for r in finished.records if not r["error"])
            result.failed += sum(1 for r in finished.records if r["error"])
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


def _outcome(finished: Finished, number: int, total: int) -> Outcome:
    errors = [r["error"] for r in finished.records if r["error"]]
    tokens = 0
    for record in finished.records:
        usage = ((record["response"] or {}).get("body") or {}).get("usage") or {}
        tokens += usage.get("total_tokens", 0)
    return Outcome(number, total, finished.job.label, not errors, finished.seconds, tokens,
                   errors[0] if errors else None, finished.where)
