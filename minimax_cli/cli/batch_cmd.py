"""`minimax batch`: the command cron runs. Parses, hands the work to minimax_cli.batch, renders.

Kept apart from app.py, which registers it; shared helpers of app.py are imported when the command
runs, so either module can be imported first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.errors import ErrorCode, MinimaxError


def batch(
    source: Path = typer.Argument(..., help="A folder (each matching file is a job, custom_id = its path "
                                  "relative to the folder) or a request file (JSONL, a job per line)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The JSONL results file: one record per "
                                          "custom_id appended and fsynced as each job ends; locked while a run "
                                          "writes it. Required, except with --dry-run."),
    task: Optional[str] = typer.Option(None, "--task", help="For a folder: summarize | ask | review | translate "
                                       "(a request file names the task on each line)."),
    globs: list[str] = typer.Option([], "--glob", help="Only files matching this pattern, gitignore syntax "
                                    "('*.pdf' at any depth); repeatable; default: every file."),
    excludes: list[str] = typer.Option([], "--exclude", help="Leave out files matching this gitignore-style "
                                       "pattern ('drafts/', '*.tmp'); repeatable."),
    questions: list[str] = typer.Option([], "--question", help="ask: a question; repeatable, each answer is "
                                        "its own record (custom_id PATH#q1, PATH#q2, ...)."),
    to: Optional[str] = typer.Option(None, "--to", help="translate: the target language."),
    source_language: Optional[str] = typer.Option(None, "--from", help="translate: the source language "
                                                  "(default: detected)."),
    length: str = typer.Option("medium", "--length", help="summarize: short | medium | long"),
    strategy: str = typer.Option("auto", "--strategy", help="summarize: auto | single | hierarchical"),
    model: str = typer.Option("default", "--model", "-m", help="A preset name (see `minimax models`) or a "
                              "checkpoint folder / .gguf file.", envvar="MINIMAX_MODEL"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Cap on generated tokens "
                                                 "per model call (default: the preset's; request lines may "
                                                 "set their own)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="0 = greedy (default: the preset's)."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Nucleus sampling mass (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    quant: Optional[str] = typer.Option(None, "--quant", help="Weight quantization for hybrid checkpoints: "
                                        "none | int8 (default: the preset's)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="A folder of prompt files that override "
                                           "the shipped ones."),
    force: bool = typer.Option(False, "--force", help="Run every job again, even those already answered."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print each job's plan (tokens, one pass or split, "
                                 "estimated time) without running the model; writes nothing."),
    replicas: int = typer.Option(1, "--replicas", help="Run N copies of the model, each on its own share of "
                                 "the GPUs, when one copy fits on fewer GPUs than there are."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-document lines; failures "
                               "and the summary line still go to stderr."),
):
    """Run a task over every file of a folder, or every line of a request file, with the model
    loaded once. Safe to kill and rerun: results are appended and fsynced one line at a time, and
    a rerun skips every custom_id already answered with the same fingerprint (input, prompt, model,
    settings), redoing failed and changed ones. Exit codes: 0 all done, 4 some documents failed,
    5 another run holds the output, 1 fatal, 2 bad usage. The last stderr line sums up: done N,
    failed N, skipped N, tokens N, seconds S.

    Example: minimax batch inbox/ --task summarize --glob '*.pdf' -o summaries.jsonl"""
    from minimax_cli.cli.app import guarded

    guarded(lambda: _run(source, output, task, globs, excludes, questions, to, source_language, length,
                         strategy, model, max_new_tokens, temperature, top_p, seed, quant, prompts, force,
                         dry_run, replicas, quiet))


def _run(source, output, task, globs, excludes, questions, to, source_language, length, strategy, model,
         max_new_tokens, temperature, top_p, seed, quant, prompts, force, dry_run, replicas,
         quiet) -> ExitStatus:
    from minimax_cli.batch import folder_jobs
    from minimax_cli.batch_requests import read_requests
    from minimax_cli.cli.app import prompt_dirs
    from minimax_cli.jobs import TaskSpec

    if output is None and not dry_run:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "batch needs -o/--output, the results file")
    flags = TaskSpec(task=task or "", questions=tuple(questions), length=length, strategy=strategy,
                     to=to or "", source_language=source_language, max_new_tokens=max_new_tokens,
                     temperature=temperature, top_p=top_p, seed=seed, prompt_dirs=prompt_dirs(prompts))
    if source.is_dir():
        if task is None:
            raise MinimaxError(ErrorCode.BAD_REQUEST, "a folder needs --task summarize|ask|review|translate")
        flags.check()
        jobs = folder_jobs(source, flags, globs, excludes, leave_out=[output] if output else [])
    else:
        if task is not None or globs or excludes:
            raise MinimaxError(ErrorCode.BAD_REQUEST, "--task, --glob and --exclude are for a folder; a request "
                               "file names the task on each line")
        jobs = read_requests(source, flags)
    if dry_run:
        return _dry_run(jobs, output, model, quant, force, quiet)
    return _batch(jobs, output, model, quant, force, replicas, quiet)


def _batch(jobs, output: Path, model: str, quant, force: bool, replicas: int, quiet: bool) -> ExitStatus:
    from minimax_cli.batch_output import BatchOutput, OutputLocked

    try:
        with BatchOutput(output) as out:  # first, so that a second run stops before any work
            result = _locked(out, jobs, model, quant, force, replicas, quiet)
    except OutputLocked as exc:
        console.error(str(exc))
        return ExitStatus.LOCKED
    console.stderr.print(result.summary(), markup=False)
    return ExitStatus.OK if result.failed == 0 else ExitStatus.PARTIAL


def _locked(out, jobs, model: str, quant, force: bool, replicas: int, quiet: bool):
    from minimax_cli.batch import LocalRunner, model_identity, plan_batch, run_batch
    from minimax_cli.batch_replicas import ReplicaPool, replica_devices
    from minimax_cli.progress import NULL_PROGRESS

    progress = console.make_progress(quiet)
    bar = progress if console.stderr.is_terminal else NULL_PROGRESS  # else per-document lines say it all
    if out.repaired_bytes:
        progress.log(f"{out.path}: cut off a torn last line ({out.repaired_bytes} bytes) left by a killed run")
    identity, defaults = model_identity(model, quant)
    devices = replica_devices(replicas, model, quant) if replicas != 1 else None
    plan = plan_batch(jobs, _existing(out.records, out.path), identity, defaults, force)
    runner = (ReplicaPool(model, quant, devices, progress) if devices
              else LocalRunner(model, quant, load_progress=progress, task_progress=bar))
    try:
        return run_batch(plan, out, runner, bar, _outcome_printer(progress, quiet))
    finally:
        runner.close()


def _dry_run(jobs, output: Path | None, model: str, quant, force: bool, quiet: bool) -> ExitStatus:
    """The plan, read-only: the results file is read (not locked, not repaired) to find what a run
    would skip."""
    from minimax_cli.batch import model_identity, plan_batch
    from minimax_cli.batch_estimate import estimate, open_counter, speed
    from minimax_cli.records import read_records

    identity, defaults = model_identity(model, quant)
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
        if outcome.ok:
            if lines_for_all:
                progress.log(f"{head} ok {outcome.label} {outcome.seconds:.1f}s")
            return
        error = outcome.error
        line = f"{head} failed {outcome.label} {outcome.seconds:.1f}s: {error['message']} ({error['code']})"
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
