"""Resume: fingerprints, which custom_ids earlier runs settled, and the plan of what runs now.

A batch is a list of `Job`s, each writing one record per custom_id: a file of a folder (custom_id:
its path relative to the folder) or a line of a request file (requests.py). Before anything
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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from minimax_cli.batch.jobs import Job
from minimax_cli.batch.requests import ChatSpec
from minimax_cli.engine.base import GenerationParams
from minimax_cli.errors import MinimaxError
from minimax_cli.records import Record, RecordError, canonical_json
from minimax_cli.sources import load_document
from minimax_cli.tasks.spec import TaskSpec

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


def settled(record: Record | None, fp: str | None) -> bool:
    """Whether `record`, a custom_id's last line, settles it for fingerprint `fp`: a success, or
    a failure of the input itself (status 400: encrypted, binary, empty, bad request ...), which
    the same input, prompt, model and settings would only repeat. Failures of the model or the
    machine (status 500) are not settled: a rerun tries them again."""
    if record is None or fp is None or record.fingerprint != fp:
        return False
    return record.status_code == (400 if record.error is not None else 200)


def latest_records(records: Iterable[dict]) -> dict[str, dict]:
    """The last record of each custom_id: its current result (readers of a results file want
    this too: `jq -s 'group_by(.custom_id) | map(last)'` does the same)."""
    # Keyed before parsing: a malformed last line still supersedes the lines before it.
    return {record["custom_id"]: record for record in records if isinstance(record.get("custom_id"), str)}


def last_record(raw: dict | None) -> Record | None:
    """A custom_id's last line as a record; None when there is none or it is not a record, which
    settles nothing, so the custom_id runs again."""
    if raw is None:
        return None
    try:
        return Record.from_json(raw)
    except RecordError:
        return None


@dataclass
class BatchPlan:
    pending: list[Job]  # to run, narrowed to their unsettled custom_ids
    skipped: list[Job]  # settled in full already
    skipped_ids: int = 0  # custom_ids settled already, of skipped and of partly settled jobs
    skipped_failures: int = 0  # of those, the ones settled by an input failure


def plan_batch(jobs: list[Job], existing: Iterable[dict], model: dict, defaults: GenerationParams,
               force: bool = False) -> BatchPlan:
    """Fingerprint every job and set aside the custom_ids that `existing` records settle."""
    latest = {cid: last_record(raw) for cid, raw in latest_records(existing).items()}
    plan = BatchPlan(pending=[], skipped=[])
    for job in jobs:
        if job.problem is None:
            job = replace(job, fingerprints=job_fingerprints(job, model, defaults))
        todo = []
        for i, (cid, fp) in enumerate(zip(job.custom_ids, job.fingerprints)):
            last = latest.get(cid)
            if force or not settled(last, fp):
                todo.append(i)
            elif last.error is not None:
                plan.skipped_failures += 1
        plan.skipped_ids += len(job.custom_ids) - len(todo)
        if not todo:
            plan.skipped.append(job)
        else:
            plan.pending.append(job if len(todo) == len(job.custom_ids) else job.narrowed(todo))
    return plan


