"""`minimax batch --dry-run`: the plan and an estimated time for every job, without running them.

Token counts come from the model's own tokenizer and chat format with no weights loaded (a
`counter`). Time comes from tokens per second of prefill and of decoding, measured once per model
and machine with a short timed call (the only time a dry run loads the weights) and kept in
`<cache>/speed.json` for later dry runs. The estimate assumes every call writes its whole
`max_new_tokens` (a translation: as many tokens as its source), so it errs long.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from minimax_cli.batch.jobs import Job
from minimax_cli.batch.requests import ChatSpec
from minimax_cli.config import cache_dir
from minimax_cli.engine.base import Engine, GenerationParams, Message
from minimax_cli.errors import MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.records import canonical_json

SPEED_FILE = "speed.json"
MEASURE_WORDS = 400  # the timed prompt: about 500 tokens
MEASURE_NEW_TOKENS = 32


# ---- measured speed ---------------------------------------------------------------------------------


@dataclass
class Speed:
    prefill: float  # prompt tokens per second
    decode: float  # generated tokens per second
    source: str  # where the numbers came from, for the user


def machine() -> dict:
    """What makes one machine faster than another, for the speed cache's key."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpus = [torch.cuda.get_device_name(i) for i in range(count)]
    return {"host": platform.node(), "cpus": os.cpu_count(), "gpus": gpus}


def speed(model: str, quant: str | None, identity: dict, progress: Progress = NULL_PROGRESS,
          cache: Path | None = None) -> Speed:
    """Tokens/s of `model` on this machine: from the cache, else measured now (loading the model
    once) and cached."""
    path = (cache or cache_dir()) / SPEED_FILE
    key = hashlib.sha256(canonical_json({"model": identity, "machine": machine()}).encode()).hexdigest()[:24]
    known = _read_cache(path)
    if key in known:
        entry = known[key]
        return Speed(entry["prefill_tokens_per_s"], entry["decode_tokens_per_s"],
                     f"measured on this machine {entry['measured_at']}, cached in {path}")
    from minimax_cli.engine.factory import open_engine

    engine = open_engine(model, quant=quant, progress=progress)
    measured = measure(engine)
    known[key] = {"prefill_tokens_per_s": measured.prefill, "decode_tokens_per_s": measured.decode,
                  "measured_at": time.strftime("%Y-%m-%d %H:%M"), "model": identity, "machine": machine()}
    _write_cache(path, known)
    measured.source = f"measured now (the model was loaded once for this), cached in {path}"
    return measured


def measure(engine: Engine) -> Speed:
    """A short timed prefill and decode, after a warm-up call (first calls pay one-off costs)."""
    text = " ".join(f"line {n} of the timing text." for n in range(MEASURE_WORDS // 5))
    greedy = GenerationParams(max_new_tokens=MEASURE_NEW_TOKENS, temperature=0.0)
    engine.generate([Message("user", "Say hello.")], GenerationParams(max_new_tokens=2))
    gen = engine.generate([Message("user", f"Repeat this text word for word:\n\n{text}")], greedy)
    return Speed(prefill=gen.prompt_tokens / max(gen.prefill_seconds, 1e-6),
                 decode=max(gen.completion_tokens, 1) / max(gen.decode_seconds, 1e-6), source="measured now")


def _read_cache(path: Path) -> dict:
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _write_cache(path: Path, known: dict) -> None:
    """Whole or not at all: concurrent dry runs may race, and the last complete file wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
    tmp.replace(path)


# ---- the plan of each job --------------------------------------------------------------------------


@dataclass
class Estimate:
    label: str
    custom_ids: Sequence[str]
    action: str  # run | skip | error
    tokens: int = 0  # input tokens, as the task frames them
    plan: str = ""  # "one pass" | "split into 4 parts" | "chat"
    prefill_tokens: int = 0
    decode_tokens: int = 0
    error: str | None = None

    def seconds_at(self, rate: Speed) -> float:
        return self.prefill_tokens / rate.prefill + self.decode_tokens / rate.decode


def estimate(job: Job, counter: Engine, defaults: GenerationParams) -> Estimate:
    """The plan of one pending job: tokens in and out, one pass or split."""
    est = Estimate(job.label, job.custom_ids, "run")
    try:
        if job.problem is not None:
            raise job.problem
        if isinstance(job.spec, ChatSpec):
            params = job.spec.params(defaults)
            est.tokens = est.prefill_tokens = counter.count_chat_tokens(job.spec.messages)
            est.plan, est.decode_tokens = "chat", params.max_new_tokens
        else:
            _plan_task(job, counter, defaults, est)
    except MinimaxError as exc:
        est.action, est.error = "error", str(exc)
    return est


def _plan_task(job: Job, counter: Engine, defaults: GenerationParams, est: Estimate) -> None:
    from minimax_cli.sources import load_document
    from minimax_cli.tasks.plan import plan
    from minimax_cli.tasks.summarize import summarize_plan

    spec = job.spec
    doc = load_document(job.input)
    opts = spec.options(defaults)
    answer = opts.params.max_new_tokens
    if spec.task == "summarize":
        the_plan = summarize_plan(doc, counter, opts)
    else:
        extra = max((counter.count_tokens(q) for q in spec.questions), default=0)
        the_plan = plan(doc, counter, spec.task, answer, extra_tokens=extra, prompt_dirs=spec.prompt_dirs)
    parts = len(the_plan.parts)
    single = the_plan.strategy == "single"
    est.tokens = the_plan.tokens
    est.plan = "one pass" if single else f"split into {parts} parts"
    est.prefill_tokens = the_plan.tokens + the_plan.prompt_tokens * parts
    if spec.task == "ask" and not single:  # each question reads the excerpts that rank best for it
        est.plan = "ranked excerpts"
        est.prefill_tokens = (the_plan.budget + the_plan.prompt_tokens) * len(spec.questions)
    if spec.task == "translate":  # the translation is about as long as its source
        est.decode_tokens = the_plan.tokens
    elif spec.task == "ask":
        est.decode_tokens = answer * len(spec.questions)
    else:  # a summary per part and the merge, or findings per part
        est.decode_tokens = answer * (parts + (spec.task == "summarize" and not single))
