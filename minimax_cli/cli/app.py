"""The `minimax` command line: parse, call a task, render. Nothing else lives here.

Results go to stdout (readable text, or one JSON record per job with --json) and to the JSONL
file named by -o; progress, logs and errors go to stderr. Exit codes: cli/exit.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.exit import ExitStatus, status_for
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.tasks.spec import TaskSpec

app = typer.Typer(
    name="minimax",
    help="Offline long-document jobs (summarize, ask, review, translate) on the MiniMax hybrid "
    "model, or on a small embedded model when there is no GPU. Results are JSONL records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: paragraphs rewrap cleanly, docs/cli.md stays plain text
    context_settings={"help_option_names": ["-h", "--help"]},
)
models_app = typer.Typer(help="List model presets and where their files are; create synthetic checkpoints.",
                         invoke_without_command=True, no_args_is_help=False, rich_markup_mode=None)
app.add_typer(models_app, name="models")


def _register_bench() -> None:
    from minimax_cli.cli.bench_cmd import bench_app

    app.add_typer(bench_app, name="bench")


_register_bench()


# ---- shared options ---------------------------------------------------------------------------

ModelOpt = typer.Option("default", "--model", "-m", help="A preset name (see `minimax models`) or a "
                        "checkpoint folder / .gguf file.", envvar="MINIMAX_MODEL")
OutputOpt = typer.Option(None, "--output", "-o", help="Append one JSON record per job to this JSONL file.")
JsonOpt = typer.Option(False, "--json", help="Print each record as one JSON line on stdout.")
MaxNewOpt = typer.Option(None, "--max-new-tokens", help="Cap on generated tokens per model call "
                         "(default: the preset's).")
TempOpt = typer.Option(None, "--temperature", help="0 = greedy (default: the preset's).")
TopPOpt = typer.Option(None, "--top-p", help="Nucleus sampling mass (default: the preset's).")
SeedOpt = typer.Option(0, "--seed", help="Sampling seed.")
QuantOpt = typer.Option(None, "--quant", help="Weight quantization for hybrid checkpoints: none | int8 "
                        "(default: the preset's).")
PromptsOpt = typer.Option(None, "--prompts", help="A folder of prompt files that override the shipped ones.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress or log lines on stderr.")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(ExitStatus.INTERRUPTED)


def fail(exc: MinimaxError) -> typer.Exit:
    console.error(str(exc))
    return typer.Exit(status_for(exc.code))


def guarded(fn: Callable[[], int | None]) -> None:
    """Run a command body; expected errors become one line on stderr and their exit code."""
    from minimax_cli.batch.output import OutputLocked
    from minimax_cli.records import ResultsFileError

    try:
        code = fn()
    except MinimaxError as exc:
        raise fail(exc)
    except OutputLocked as exc:
        console.error(str(exc))
        raise typer.Exit(ExitStatus.LOCKED)
    except ResultsFileError as exc:
        console.error(str(exc))
        raise typer.Exit(ExitStatus.CANNOT_WRITE)
    raise typer.Exit(int(code or ExitStatus.OK))


# ---- engine and generation settings ---------------------------------------------------------------

def open_engine(model: str, quant: str | None, progress):
    from minimax_cli.engine.factory import open_engine as _open

    return _open(model, quant=quant, progress=progress)


def prompt_dirs(prompts: Path | None) -> tuple[Path, ...]:
    if prompts is None:
        return ()
    if not prompts.is_dir():
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--prompts must be a folder of prompt files", str(prompts))
    return (prompts,)


# ---- running jobs and emitting records ------------------------------------------------------------

class Emitter:
    """Where results go: readable text (default), JSON lines on stdout, and/or a JSONL file."""

    def __init__(self, output: Path | None, as_json: bool):
        from minimax_cli.batch.output import BatchOutput

        self.as_json = as_json
        self.writer = BatchOutput(output) if output else None  # checked, locked and repaired as batch's
        self.failed = 0
        self.worst = ExitStatus.OK

    def __enter__(self):
        if self.writer:
            self.writer.__enter__()
        return self

    def __exit__(self, *exc):
        if self.writer:
            self.writer.__exit__(*exc)

    def success(self, record: dict, text: str) -> None:
        if self.writer:
            self.writer.append(record)
        if self.as_json:
            console.out(json.dumps(record, ensure_ascii=False))
        elif not self.writer:
            console.out(text)

    def failure(self, custom_id: str, exc: MinimaxError) -> None:
        from minimax_cli.records import error_record

        record = error_record(custom_id, exc)
        if self.writer:
            self.writer.append(record)
        if self.as_json:
            console.out(json.dumps(record, ensure_ascii=False))
        console.error(str(exc))
        self.failed += 1
        self.worst = max(self.worst, status_for(exc.code))


def run_jobs(paths: list[str], spec: TaskSpec, engine_spec: str, quant, output, as_json, quiet,
             load=None, shown=None) -> int:
    """Load each document (with `load(path)` when given), run `spec` over it, emit its records;
    `shown(result)` rewrites the text a result prints as.

    Documents that cannot be read become error records and a non-zero exit; the rest still run."""
    from minimax_cli.batch.run import engine_failure
    from minimax_cli.sources import load_document

    spec.check()
    progress = console.make_progress(quiet)
    engine = None
    with Emitter(output, as_json) as emit:
        for path in paths:
            try:
                doc = load(path) if load else load_document(path, stdin=sys.stdin)
                if engine is None:
                    engine = open_engine(engine_spec, quant, progress)
                for record, result in spec.records(spec.custom_ids(path), doc, engine, progress):
                    emit.success(record, shown(result) if shown else result.text)
                    for warning in result.warnings:
                        console.warn(warning)
            except MinimaxError as exc:
                if exc.code in (ErrorCode.MODEL_NOT_FOUND, ErrorCode.BAD_CHECKPOINT):
                    raise  # no document can run: fatal
                emit.failure(path, exc)
            except Exception as exc:  # an engine failure (out of memory, ...): the error record batch writes
                if engine is None:
                    raise  # the model did not load: fatal
                emit.failure(path, engine_failure(exc, path))
    return emit.worst


# ---- the four jobs -----------------------------------------------------------------------------------

@app.command()
def summarize(
    paths: list[str] = typer.Argument(..., help="Files or folders to summarise ('-' reads stdin); one record each."),
    length: str = typer.Option("medium", "--length", help="short | medium | long: at most "
                                "120 | 300 | 700 words."),
    strategy: str = typer.Option("auto", "--strategy", help="auto (one pass when it fits, else hierarchical) | "
                                 "single | hierarchical (part summaries merged) | incremental (a running "
                                 "summary updated part by part)"),
    chapters: bool = typer.Option(False, "--chapters", help="Also summarise each chapter (or file) on its own, "
                                  "with its page or line range; with auto, the chapter summaries are merged "
                                  "into the whole."),
    model: str = ModelOpt, output: Optional[Path] = OutputOpt, as_json: bool = JsonOpt,
    max_new_tokens: Optional[int] = MaxNewOpt, temperature: Optional[float] = TempOpt,
    top_p: Optional[float] = TopPOpt, seed: int = SeedOpt, quant: Optional[str] = QuantOpt,
    prompts: Optional[Path] = PromptsOpt, quiet: bool = QuietOpt,
):
    """Summarise documents: one pass when the text fits the model, else part by part along the
    document's chapters, pages or files, then merged. The record says which strategy ran.

    Example: minimax summarize samples/book.pdf --chapters -o summaries.jsonl"""
    from minimax_cli.tasks.summarize import LENGTH_WORDS, STRATEGIES

    if length not in LENGTH_WORDS:
        console.error(f"--length must be one of {', '.join(LENGTH_WORDS)}")
        raise typer.Exit(ExitStatus.USAGE)
    if strategy not in STRATEGIES:
        console.error(f"--strategy must be one of {', '.join(STRATEGIES)}")
        raise typer.Exit(ExitStatus.USAGE)

    spec = TaskSpec("summarize", length=length, strategy=strategy, chapters=chapters,
                    **_generation(max_new_tokens, temperature, top_p, seed, prompts))
    guarded(lambda: run_jobs(paths, spec, model, quant, output, as_json, quiet))


@app.command()
def ask(
    path: str = typer.Argument(..., help="A file or folder (a repository) to answer from; '-' reads stdin."),
    questions: list[str] = typer.Argument(None, help="The question(s)."),
    question: list[str] = typer.Option([], "--question", help="More questions over the same document "
                                       "(its prefill is paid once on the hybrid engine)."),
    questions_file: Optional[Path] = typer.Option(None, "--questions-file", help="A file with one question per line."),
    model: str = ModelOpt, output: Optional[Path] = OutputOpt, as_json: bool = JsonOpt,
    max_new_tokens: Optional[int] = MaxNewOpt, temperature: Optional[float] = TempOpt,
    top_p: Optional[float] = TopPOpt, seed: int = SeedOpt, quant: Optional[str] = QuantOpt,
    prompts: Optional[Path] = PromptsOpt, quiet: bool = QuietOpt,
):
    """Answer questions about a document or repository, with citations checked against the source
    (page and label for PDFs, line ranges for text and code).

    Example: minimax ask samples/repo "Where are session tokens verified?" """
    qs = list(questions or []) + list(question)
    if questions_file:
        qs += [line.strip() for line in questions_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not qs:
        console.error("ask needs a question: minimax ask PATH \"QUESTION\"")
        raise typer.Exit(ExitStatus.USAGE)

    spec = TaskSpec("ask", questions=tuple(qs), **_generation(max_new_tokens, temperature, top_p, seed, prompts))
    guarded(lambda: run_jobs([path], spec, model, quant, output, as_json, quiet))


@app.command()
def review(
    path: str = typer.Argument(..., help="A file, a repository folder, or a unified diff (.diff/.patch, or '-'); "
                               "with --diff, a file or folder inside a git work tree."),
    diff: Optional[str] = typer.Option(None, "--diff", help="Review only what changed against this revision "
                                       "(`git diff REV`: a branch, HEAD~1, a commit, main...HEAD)."),
    fmt: str = typer.Option("text", "--format", help="What stdout shows: text | jsonl (one finding a line) | "
                            "sarif (SARIF 2.1.0) | rdjsonl (reviewdog) | markdown. Printed also with -o."),
    model: str = ModelOpt, output: Optional[Path] = OutputOpt, as_json: bool = JsonOpt,
    max_new_tokens: Optional[int] = MaxNewOpt, temperature: Optional[float] = TempOpt,
    top_p: Optional[float] = TopPOpt, seed: int = SeedOpt, quant: Optional[str] = QuantOpt,
    prompts: Optional[Path] = PromptsOpt, quiet: bool = QuietOpt,
):
    """Review code: findings with path, line range (checked to exist), severity, category,
    message and suggestion. A diff, or the changes against --diff REV, is reviewed hunk by hunk.

    Example: minimax review . --diff main --format sarif > review.sarif"""
    from minimax_cli.tasks.review_formats import FORMATS, render_findings

    if fmt not in FORMATS:
        console.error(f"--format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(ExitStatus.USAGE)
    if fmt != "text" and as_json:
        console.error("--json prints records; use it or --format, not both")
        raise typer.Exit(ExitStatus.USAGE)

    def shown(result) -> str:
        text = render_findings(fmt, result.result["findings"], result.text)
        if fmt != "text" and output is not None:  # the record goes to -o; the asked format still to stdout
            console.out(text)
        return text

    def load_changes(target: str):
        from minimax_cli.sources.gitdiff import load_git_diff

        return load_git_diff(target, diff)

    spec = TaskSpec("review", **_generation(max_new_tokens, temperature, top_p, seed, prompts))
    guarded(lambda: run_jobs([path], spec, model, quant, output, as_json, quiet,
                             load=load_changes if diff else None, shown=shown))


@app.command()
def translate(
    path: str = typer.Argument(..., help="The document to translate ('-' reads stdin)."),
    to: str = typer.Option(..., "--to", help="Target language, e.g. French or fr."),
    source_language: Optional[str] = typer.Option(None, "--from", help="Source language (default: detected by the model)."),
    write: Optional[Path] = typer.Option(None, "--write", help="Also write the translated document here "
                                         "(default: next to the -o file, else not written)."),
    glossary: Optional[Path] = typer.Option(None, "--glossary", help="Terms to translate exactly as given: one "
                                            "a line, `term = translation`, or the term alone to keep it; or "
                                            "a JSON object. Paragraphs that miss one are reported."),
    model: str = ModelOpt, output: Optional[Path] = OutputOpt, as_json: bool = JsonOpt,
    max_new_tokens: Optional[int] = MaxNewOpt, temperature: Optional[float] = TempOpt,
    top_p: Optional[float] = TopPOpt, seed: int = SeedOpt, quant: Optional[str] = QuantOpt,
    prompts: Optional[Path] = PromptsOpt, quiet: bool = QuietOpt,
):
    """Translate a document paragraph by paragraph, every paragraph numbered and checked to come
    back; the record reports coverage and any misaligned paragraphs.

    Example: minimax translate samples/book.txt --to French -o out.jsonl"""
    target = write
    if target is None and output is not None and path != "-":
        src = Path(path)
        target = output.parent / f"{src.stem}.{_lang_tag(to)}{src.suffix or '.txt'}"

    spec = TaskSpec("translate", to=to, source_language=source_language, write=target,
                    glossary=_glossary_or_exit(glossary),
                    **_generation(max_new_tokens, temperature, top_p, seed, prompts))
    guarded(lambda: run_jobs([path], spec, model, quant, output, as_json, quiet))


def _generation(max_new_tokens, temperature, top_p, seed, prompts) -> dict:
    """The TaskSpec fields every job command shares."""
    return {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
            "prompt_dirs": _dirs_or_exit(prompts)}


def _lang_tag(language: str) -> str:
    return "".join(c for c in language.lower() if c.isalnum())[:12] or "translated"


def _glossary_or_exit(path: Path | None):
    from minimax_cli.tasks.glossary import load_glossary

    try:
        return load_glossary(path) if path is not None else ()
    except MinimaxError as exc:
        raise fail(exc)


def _dirs_or_exit(prompts: Path | None) -> tuple[Path, ...]:
    try:
        return prompt_dirs(prompts)
    except MinimaxError as exc:
        raise fail(exc)


# ---- looking before running -----------------------------------------------------------------------

@app.command()
def inspect(
    path: str = typer.Argument(..., help="A file, folder or '-'."),
    task: str = typer.Option("summarize", "--task", help="Plan for this job: summarize | ask | review | translate."),
    model: str = ModelOpt,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    text: bool = typer.Option(False, "--text", help="Print the extracted text the model would see, each "
                              "segment under a header line with its locator."),
    max_new_tokens: Optional[int] = MaxNewOpt,
    quiet: bool = QuietOpt,
):
    """Show what a job would see: tokens, pages or files, skipped files and why, and the plan (one
    pass or split into parts). Loads only the tokenizer, not the weights.

    Example: minimax inspect samples/repo --task ask"""
    from minimax_cli.sources import load_document
    from minimax_cli.tasks.plan import plan

    def body():
        doc = load_document(path, stdin=sys.stdin)
        if text:
            for seg in doc.segments:
                console.out(f"==> {seg.locator} <==")
                console.out(seg.text)
            return ExitStatus.OK
        from minimax_cli.engine.counter import open_counter

        engine = open_counter(model)
        answer = max_new_tokens or engine.default_params.max_new_tokens
        the_plan = plan(doc, engine, task, answer)
        info = {"source": doc.source_info(), "title": doc.title, "segments": len(doc.segments),
                "sections": [{"title": s.title, "start": s.start, "end": s.end, "level": s.level}
                             for s in doc.sections],
                "model": engine.info.to_dict(), "plan": the_plan.to_dict()}
        if as_json:
            console.out(json.dumps(info, ensure_ascii=False))
        else:
            _print_inspect(doc, info, the_plan)
        return ExitStatus.OK

    guarded(body)


def _print_inspect(doc, info, the_plan) -> None:
    console.out(f"{doc.path}  ({doc.kind}, sha256 {doc.sha256[:12]})")
    if doc.title:
        console.out(f"title:    {doc.title}")
    if doc.pages is not None:
        console.out(f"pages:    {doc.pages}")
    if doc.files:
        console.out(f"files:    {len(doc.files)}")
    console.out(f"segments: {len(doc.segments)}, sections: {len(doc.sections)}")
    for skipped in doc.skipped:
        console.out(f"skipped:  {skipped.path} ({skipped.reason}{': ' + skipped.detail if skipped.detail else ''})")
    console.out(f"model:    {info['model']['name']} (context {the_plan.context_window} tokens)")
    console.out(f"tokens:   {the_plan.tokens} input + {the_plan.prompt_tokens} prompt + "
                f"{the_plan.answer_tokens} answer")
    if the_plan.strategy == "single":
        console.out(f"plan:     {the_plan.task} in one pass")
    else:
        console.out(f"plan:     {the_plan.task} split into {len(the_plan.parts)} parts of up to "
                    f"{the_plan.budget} tokens, then merged")
        for i, part in enumerate(the_plan.parts, 1):
            console.out(f"  {i:>3}. {part.locator}  ({part.tokens} tokens)")


# ---- models --------------------------------------------------------------------------------------

@models_app.callback()
def models(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="One JSON object per preset, one per line.")):
    """List model presets: engine, description, where their files are and whether they are present.

    Example: minimax models"""
    if ctx.invoked_subcommand is not None:
        return
    from minimax_cli.engine.factory import list_models

    def body():
        for entry in list_models():
            if as_json:
                console.out(json.dumps(entry, ensure_ascii=False))
            else:
                mark = "ok" if entry["present"] else "--"
                console.out(f"{mark} {entry['name']:<16} {entry['engine']:<7} {entry['description']}")
                where = entry["location"] or ""
                note = f"  ({entry['note']})" if entry["note"] else ""
                console.out(f"   {'':<16} {'':<7} {where}{note}")
        return ExitStatus.OK

    guarded(body)


@models_app.command("synth")
def models_synth(
    out: Path = typer.Argument(..., help="Folder to write the checkpoint into (must not exist or be empty)."),
    preset: str = typer.Option("tiny", "--preset", help="tiny | tiny-hf-layout | small"),
    fmt: str = typer.Option("original", "--format", help="original (remote-code config) | hf (native names)"),
    seed: int = typer.Option(0, "--seed"),
):
    """Write a random small checkpoint of the MiniMax architecture (config, safetensors, a byte-level
    BPE tokenizer with the MiniMax special tokens and chat template) for tests and demos.

    Example: minimax models synth --preset tiny /tmp/tiny && minimax score --model /tmp/tiny samples/book.txt"""
    from minimax_cli.synthetic import SYNTH_PRESETS, write_synth_checkpoint

    def body():
        if preset not in SYNTH_PRESETS:
            raise MinimaxError(ErrorCode.BAD_REQUEST, f"unknown synth preset {preset!r} "
                               f"(one of {', '.join(SYNTH_PRESETS)})")
        if out.exists() and any(out.iterdir()):
            raise MinimaxError(ErrorCode.BAD_REQUEST, "output folder exists and is not empty", str(out))
        folder = write_synth_checkpoint(out, preset, seed=seed, fmt=fmt)
        console.out(str(folder))
        return ExitStatus.OK

    guarded(body)


# ---- scoring -------------------------------------------------------------------------------------

@app.command()
def score(
    file: Path = typer.Argument(..., help="A text file to score."),
    model: str = typer.Option(..., "--model", "-m", help="A hybrid checkpoint folder or preset."),
    chunk: Optional[int] = typer.Option(None, "--chunk", help="Prefill chunk size in tokens; the answer "
                                        "must not depend on it."),
    quant: Optional[str] = QuantOpt,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: tokens, nll, ppl."),
    quiet: bool = QuietOpt,
):
    """Mean negative log-likelihood per predicted token of a file's text under the model (its own
    tokenizer, no chat template). Checks a deployment or a quantization.

    Example: minimax score --model /tmp/tiny samples/book.txt --chunk 512 --json"""

    def body():
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MinimaxError(ErrorCode.NOT_FOUND, "no such file", str(file))
        except (OSError, UnicodeDecodeError) as exc:
            raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read the file as UTF-8 text: {exc}", str(file))
        if chunk is not None and chunk < 1:
            raise MinimaxError(ErrorCode.BAD_REQUEST, "--chunk must be at least 1")
        engine = open_engine(model, quant, console.make_progress(quiet))
        if not hasattr(engine, "score"):
            raise MinimaxError(ErrorCode.BAD_REQUEST, f"{engine.info.name} is not a hybrid checkpoint: "
                               "score runs on the MiniMax runtime")
        result = engine.score(text, chunk_size=chunk, progress=console.make_progress(quiet))
        if as_json:
            console.out(json.dumps({"tokens": result["tokens"], "nll": result["nll"], "ppl": result["ppl"],
                                    "model": engine.info.name, "chunk": chunk or engine.chunk_size}))
        else:
            console.out(f"tokens {result['tokens']}  nll {result['nll']:.6f}  ppl {result['ppl']:.4f}")
        return ExitStatus.OK

    guarded(body)


# ---- GPU planning --------------------------------------------------------------------------------

@app.command("plan")
def plan_cmd(
    model: str = typer.Argument(..., help="A hybrid preset (minimax-text-01, ...) or checkpoint folder."),
    gpus: int = typer.Option(None, "--gpus", help="Number of GPUs (default: the preset's, else the visible ones)."),
    gpu_mem: Optional[float] = typer.Option(None, "--gpu-mem", help="GiB per GPU (default: the first visible "
                                            "GPU's, else 80)."),
    context: Optional[int] = typer.Option(None, "--context", help="Tokens of context to hold (default: the "
                                          "preset's context window)."),
    chunk: int = typer.Option(32768, "--chunk", help="Prefill chunk size in tokens (sets the activation headroom)."),
    quant: Optional[str] = typer.Option(None, "--quant", help="int8 | none (default: the preset's)."),
    balance: str = typer.Option("compute", "--balance", help="compute: cut layers by prefill work where "
                                "memory allows (what the engine loads) | bytes: by memory."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Plan the model over GPUs: layers per GPU balanced by bytes, with each GPU's weights, KV cache
    at the planned context, lightning states and activation headroom. Exits 6 when it does not fit,
    saying by how much and what would.

    Example: minimax plan minimax-text-01 --gpus 8 --gpu-mem 141 --context 1000000"""
    from minimax_cli.engine.hybrid.devicemap import GiB, plan_devices
    from minimax_cli.engine.hybrid.planning import plan_inputs

    def body():
        inputs = plan_inputs(model, gpus=gpus, gpu_mem_gib=gpu_mem, context=context, quant=quant)
        if balance not in ("compute", "bytes"):
            raise MinimaxError(ErrorCode.BAD_REQUEST, "--balance must be compute or bytes")
        plan = plan_devices(inputs.config, inputs.gpus, int(inputs.gpu_mem_gib * GiB), inputs.context,
                            chunk, inputs.quant, balance=balance)
        if as_json:
            console.out(json.dumps({"model": inputs.name, **plan.to_dict()}))
        else:
            _print_plan(inputs, plan)
        return ExitStatus.OK if plan.fits else ExitStatus.NO_FIT

    guarded(body)


def _print_plan(inputs, plan) -> None:
    from minimax_cli.engine.hybrid.devicemap import GiB

    def gib(n):
        return f"{n / GiB:7.1f}G"

    console.out(f"{inputs.name}: {plan.quant}, context {plan.context:,} tokens, chunk {plan.chunk:,}, "
                f"{inputs.gpus} GPU{'s' if inputs.gpus > 1 else ''} x {inputs.gpu_mem_gib:g} GiB"
                f" ({inputs.config_source})")
    console.out(f"{'device':<8} {'layers':<9} {'weights':>8} {'kv':>8} {'state':>8} {'headroom':>9} "
                f"{'total':>8} {'capacity':>9}")
    for d in plan.devices:
        layers = f"{d.layers[0]}-{d.layers[-1]}" if d.layers else "-"
        extra = "+embed" if d.holds_embed else ""
        extra += "+head" if d.holds_head else ""
        mark = "" if d.total_bytes <= d.capacity_bytes else "  OVER"
        console.out(f"{d.device:<8} {layers:<9} {gib(d.weights_bytes)} {gib(d.kv_bytes)} {gib(d.state_bytes)} "
                    f"{gib(d.headroom_bytes)}  {gib(d.total_bytes)} {gib(d.capacity_bytes)}  {extra}{mark}")
    console.out(f"weights in all: {plan.weights_bytes / GiB:.1f} GiB")
    if plan.fits:
        console.out("fits: yes")
    else:
        console.out(f"fits: no, {plan.shortfall_bytes / GiB:.1f} GiB over on the fullest GPU; "
                    f"would fit: {'; '.join(plan.advice)}")


# ---- batch: its own module, registered here ------------------------------------------------------
from minimax_cli.cli import batch_cmd  # noqa: E402  (imports nothing from this module at import time)

app.command("batch")(batch_cmd.batch)
