"""`minimax batch`: the command cron runs. Parses, hands the work to minimax_cli.batch, renders.

Registered by the root (app.py); errors leave through common.exit_status like every command's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.common import (ModelOpt, PromptsOpt, QuantOpt, SeedOpt, TempOpt, TopPOpt, check,
                                    prompt_dirs, text, texts, usage_error)
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.errors import ErrorCode, MinimaxError


def batch(
    source: Annotated[Path, typer.Argument(help="A folder (each matching file is a job, custom_id = its path "
                                           "relative to the folder) or a request file (JSONL, a job per line).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The JSONL results file: one record "
                                                   "per custom_id appended and fsynced as each job ends; locked "
                                                   "while a run writes it. Required, except with "
                                                   "--dry-run.")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="For a folder: summarize | ask | review | "
                                                "translate (a request file names the task on each "
                                                "line).")] = None,
    globs: Annotated[list[str], typer.Option("--glob", help="Only files matching this pattern, gitignore syntax "
                                             "('*.pdf' at any depth); repeatable; default: every file.")] = [],
    excludes: Annotated[list[str], typer.Option("--exclude", help="Leave out files matching this gitignore-style "
                                                "pattern ('drafts/', '*.tmp'); repeatable.")] = [],
    no_ignore: Annotated[bool, typer.Option("--no-ignore", help="For a folder: also files that .gitignore and "
                                            "similar ignore files leave out (like ripgrep's "
                                            "--no-ignore).")] = False,
    questions: Annotated[list[str], typer.Option("--question", help="ask: a question; repeatable, each answer "
                                                 "is its own record (custom_id PATH#q1, PATH#q2, ...).")] = [],
    to: Annotated[Optional[str], typer.Option("--to", help="translate: the target language.")] = None,
    source_language: Annotated[Optional[str], typer.Option("--from", help="translate: the source language "
                                                           "(default: detected).")] = None,
    length: Annotated[str, typer.Option("--length", help="summarize: short | medium | long")] = "medium",
    strategy: Annotated[str, typer.Option("--strategy", help="summarize: auto | single | hierarchical | "
                                          "incremental")] = "auto",
    chapters: Annotated[bool, typer.Option("--chapters", help="summarize: also a summary per chapter (or "
                                           "file).")] = False,
    model: ModelOpt = "default",
    max_new_tokens: Annotated[Optional[int], typer.Option("--max-new-tokens", help="Cap on generated tokens "
                                                          "per model call (default: the preset's; request lines "
                                                          "may set their own).")] = None,
    temperature: TempOpt = None,
    top_p: TopPOpt = None,
    seed: SeedOpt = 0,
    quant: QuantOpt = None,
    prompts: PromptsOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Run every job again, even those already "
                                        "answered.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print each job's plan (tokens, one pass or split, "
                                          "estimated time) without running the model; writes nothing.")] = False,
    replicas: Annotated[int, typer.Option("--replicas", help="Run N copies of the model, each on its own share "
                                          "of the GPUs, when one copy fits on fewer GPUs than there are.")] = 1,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", min=1, help="Documents in flight at once "
                                                       "through the loaded model (default: as many rows as the "
                                                       "engine decodes at once on GPUs; 1 on the CPU).")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", help="Spread the jobs over a "
                                                       "Ray cluster, this process alone writing the results: auto "
                                                       "(the cluster this machine is part of), local (start one "
                                                       "here), or host:6379 / ray://host:10001. Needs "
                                                       "minimax-cli[ray].")] = None,
    ray_replicas: Annotated[Optional[int], typer.Option("--ray-replicas", help="With --ray: how many copies of "
                                                        "the model (default: as many as the GPUs hold at "
                                                        "--ray-gpus-per-replica, or one per node on "
                                                        "CPUs).")] = None,
    ray_gpus: Annotated[int, typer.Option("--ray-gpus-per-replica", help="With --ray: GPUs each copy of the "
                                          "model takes (8 for minimax-text-01 on 8-GPU nodes); 0 runs the copies "
                                          "on CPUs.")] = 0,
    ray_retries: Annotated[int, typer.Option("--ray-retries", help="With --ray: how many times a job whose "
                                             "replica died runs again elsewhere before it is written as an error "
                                             "line.")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-document lines; failures "
                                        "and the summary line still go to stderr.")] = False,
) -> int:
    """Run a task over every file of a folder, or every line of a request file, with the model
    loaded once. Safe to kill and rerun: results are appended and fsynced one line at a time, and
    a rerun skips every custom_id whose last line has the same fingerprint (input, prompt, model,
    settings) and is a success or a failure of the input itself; model failures and changed inputs
    run again. Exit codes: 0 this run wrote no error line, 4 some jobs failed, 5 another run holds
    the output, 1 fatal, 2 bad usage, 3 unreadable request file, 7 the results file cannot be
    written (not a results file, a folder, disk full). The last stderr line sums up: done N,
    failed N, skipped N, tokens N, seconds S.

    Example: minimax batch inbox/ --task summarize --glob '*.pdf' -o summaries.jsonl"""
    from minimax_cli.tasks.spec import TaskSpec

    if output is None and not dry_run:
        raise usage_error("batch needs -o/--output, the results file")
    flags = TaskSpec(task=task or "", questions=tuple(texts(questions)), length=length, strategy=strategy,
                     chapters=chapters, to=text(to) or "", source_language=text(source_language),
                     max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
                     prompt_dirs=prompt_dirs(prompts))
    cluster = _ray_options(ray_address, ray_replicas, ray_gpus, ray_retries, replicas)
    if concurrency is not None and (cluster is not None or replicas != 1):
        raise usage_error("--concurrency is for one loaded model; not with --replicas or --ray")
    jobs = _jobs(source, flags, globs, excludes, output, no_ignore, quiet)
    if dry_run:
        return _dry_run(jobs, output, model, quant, force, quiet, cluster)
    return _batch(jobs, output, model, quant, force, replicas, quiet, cluster, concurrency)


def _jobs(source: Path, flags, globs: list[str], excludes: list[str], output: Path | None,
          no_ignore: bool = False, quiet: bool = False) -> list:
    """A job per file of the folder `source` (the task and its options from `flags`), or per line
    of the request file `source` (`flags` give the generation defaults)."""
    from minimax_cli.batch.jobs import folder_jobs
    from minimax_cli.batch.requests import read_requests

    if source.is_dir():
        if not flags.task:
            raise usage_error("a folder needs --task summarize|ask|review|translate")
        check(flags)
        skipped: list = []
        jobs = folder_jobs(source, flags, globs, excludes, leave_out=[output] if output else [],
                           no_ignore=no_ignore, skipped=skipped)
        for item in [] if quiet else skipped:
            console.warn(f"skipped {item.path}: {item.detail}")
        return jobs
    if flags.task or globs or excludes:
        raise usage_error("--task, --glob and --exclude are for a folder; a request "
                           "file names the task on each line")
    return read_requests(source, flags)


@dataclass(frozen=True)
class RayOptions:
    address: str
    replicas: int | None
    gpus_per_replica: int
    retries: int


def _ray_options(address: str | None, replicas: int | None, gpus: int, retries: int,
                 local_replicas: int) -> RayOptions | None:
    if address is None:
        if replicas is not None or gpus or retries != 2:
            raise usage_error("--ray-replicas, --ray-gpus-per-replica and --ray-retries "
                               "go with --ray")
        return None
    if local_replicas != 1:
        raise usage_error("--replicas is for one machine; with --ray, use --ray-replicas")
    if retries < 0:
        raise usage_error("--ray-retries must be 0 or more")
    return RayOptions(address, replicas, gpus, retries)


def _identity(model: str, quant, cluster: RayOptions | None):
    """The model's identity for fingerprints, and its generation defaults. On Ray, whether it
    runs on CUDA is the replicas' affair, not this machine's (a head node may have no GPU)."""
    from minimax_cli.batch.resume import model_identity

    identity, defaults = model_identity(model, quant)
    if cluster is not None:
        identity = {**identity, "device": "cuda" if cluster.gpus_per_replica else "cpu"}
    return identity, defaults


def _batch(jobs, output: Path, model: str, quant, force: bool, replicas: int, quiet: bool,
           cluster: RayOptions | None, concurrency: int | None = None) -> ExitStatus:
    from minimax_cli.batch.output import BatchOutput

    # The output first, so that a second run stops (OutputLocked: exit 5) before any work.
    with BatchOutput(output) as out:
        result = _locked(out, jobs, model, quant, force, replicas, quiet, cluster, concurrency)
    console.stderr.print(result.summary(), markup=False)
    return ExitStatus.OK if result.failed == 0 else ExitStatus.PARTIAL


def _locked(out, jobs, model: str, quant, force: bool, replicas: int, quiet: bool, cluster: RayOptions | None,
            concurrency: int | None = None):
    from minimax_cli.batch.resume import plan_batch
    from minimax_cli.batch.run import LocalRunner, run_batch
    from minimax_cli.batch.replicas import ReplicaPool, replica_devices
    from minimax_cli.progress import NULL_PROGRESS

    progress = console.make_progress(quiet)
    bar = progress if console.stderr.is_terminal else NULL_PROGRESS  # else per-document lines say it all
    if out.repaired_bytes:
        progress.log(f"{out.path}: cut off a torn last line ({out.repaired_bytes} bytes) left by a killed run")
    identity, defaults = _identity(model, quant, cluster)
    devices = replica_devices(replicas, model, quant) if replicas != 1 else None
    plan = plan_batch(jobs, _existing(out.records, out.path), identity, defaults, force)
    if cluster is not None:
        runner = _ray_runner(cluster, model, quant, progress)
    elif devices:
        runner = ReplicaPool(model, quant, devices, progress)
    else:
        runner = LocalRunner(model, quant, load_progress=progress, task_progress=bar, concurrency=concurrency)
    try:
        return run_batch(plan, out, runner, bar, _outcome_printer(progress, quiet))
    finally:
        runner.close()


def _ray_runner(cluster: RayOptions, model: str, quant, progress):
    try:
        from minimax_cli.batch.cluster import RayRunner
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        raise usage_error("--ray needs Ray: pip install 'minimax-cli[ray]'") from None
    return RayRunner(cluster.address, model, quant, cluster.replicas, cluster.gpus_per_replica, cluster.retries,
                     progress)


def _dry_run(jobs, output: Path | None, model: str, quant, force: bool, quiet: bool,
             cluster: RayOptions | None) -> ExitStatus:
    """The plan, read-only: the results file is read (not locked, not repaired) to find what a run
    would skip."""
    from minimax_cli.batch.resume import plan_batch
    from minimax_cli.batch.estimate import estimate, speed
    from minimax_cli.engine.counter import open_counter
    from minimax_cli.records import read_records

    identity, defaults = _identity(model, quant, cluster)
    existing = (lambda: read_records(output)) if output is not None and output.exists() else (lambda: [])
    plan = plan_batch(jobs, _existing(existing, output), identity, defaults, force)
    counter = open_counter(model) if plan.pending else None
    estimates = [estimate(job, counter, defaults) for job in plan.pending]
    rate = None
    if any(e.action == "run" for e in estimates):
        rate = speed(model, quant, identity, console.make_progress(quiet))
    width = max((len(job.label) for job in plan.pending + plan.skipped), default=0)
    total = 0.0
    for est in estimates:
        if est.action == "error":
            console.out(f"error  {est.label:<{width}}  {est.error}")
            continue
        seconds = est.seconds_at(rate)
        total += seconds
        console.out(f"run    {est.label:<{width}}  {est.tokens:>9,} tokens  {est.plan:<20}  "
                    f"~{_duration(seconds)}")
    for job in plan.skipped:
        console.out(f"skip   {job.label:<{width}}  settled by an earlier run")
    errors = sum(e.action == "error" for e in estimates)
    line = (f"{len(jobs)} jobs: {len(estimates) - errors} to run, {len(plan.skipped)} settled already, "
            f"{errors} that would fail")
    if rate is not None:
        line += (f"; about {_duration(total)} at {rate.prefill:,.0f} prefill and {rate.decode:,.1f} decode "
                 f"tokens/s ({rate.source})")
    console.out(line)
    return ExitStatus.OK


def _existing(read, output: Path) -> list[dict]:
    try:
        return read()
    except ValueError as exc:  # a line in the middle that is not JSON: not a results file of ours
        raise MinimaxError(ErrorCode.CORRUPT, f"not a results file: {exc}", str(output)) from None


def _outcome_printer(progress, quiet: bool):
    """One line per finished document on a pipe (`[3/10] ok docs/a.pdf 12.3s`); on a terminal the
    bar shows progress and only failures get a line; with --quiet only failures."""
    lines_for_all = not quiet and not console.stderr.is_terminal

    def show(outcome) -> None:
        head = f"[{outcome.number}/{outcome.total}]"
        where = f" on {outcome.where}" if outcome.where else ""
        if outcome.ok:
            if lines_for_all:
                progress.log(f"{head} ok {outcome.label} {outcome.seconds:.1f}s{where}")
            return
        error = outcome.error
        line = f"{head} failed {outcome.label} {outcome.seconds:.1f}s{where}: {error['message']} ({error['code']})"
        if quiet:
            console.error(line)
        else:
            progress.log(line)

    return show


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
