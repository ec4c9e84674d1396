"""The four jobs on named documents: `summarize`, `ask`, `review`, `translate`, and the loop they
share (`run_jobs`: load each document, run the task, emit its records).

Results go to stdout (readable text, or one JSON record per job with --json) and to the JSONL
file named by -o; progress, logs and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.common import (JsonOpt, MaxNewOpt, ModelOpt, OutputOpt, PromptsOpt, QuantOpt, QuietOpt,
                                    SeedOpt, TempOpt, TopPOpt, check, generation, open_engine, read_text_file,
                                    text, texts, usage_error)
from minimax_cli.cli.exit import ExitStatus, status_for
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.tasks.spec import TaskSpec


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
             load=None, shown=None, keep=None) -> int:
    """Load each document (with `load(path)` when given), run `spec` over it, emit its records;
    `shown(result)` rewrites the text a result prints as, `keep(result)` saves what else the
    command writes (translate's `--write`).

    Documents that cannot be read become error records and a non-zero exit; the rest still run."""
    from minimax_cli.batch.run import engine_failure
    from minimax_cli.sources import load_document

    check(spec)
    progress = console.make_progress(quiet)
    engine = None
    with Emitter(output, as_json) as emit:
        for path in paths:
            try:
                doc = load(path) if load else load_document(path, stdin=sys.stdin)
                if engine is None:
                    engine = open_engine(engine_spec, quant, progress)
                for record, result in spec.records(spec.custom_ids(path), doc, engine, progress):
                    if keep:
                        keep(result)
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


def summarize(
    paths: Annotated[list[str], typer.Argument(help="Files or folders to summarise ('-' reads stdin); one "
                                               "record each.")],
    length: Annotated[str, typer.Option("--length", help="short | medium | long: at most 120 | 300 | 700 "
                                        "words.")] = "medium",
    strategy: Annotated[str, typer.Option("--strategy", help="auto (one pass when it fits, else hierarchical) | "
                                          "single | hierarchical (part summaries merged) | incremental (a "
                                          "running summary updated part by part)")] = "auto",
    chapters: Annotated[bool, typer.Option("--chapters", help="Also summarise each chapter (or file) on its "
                                           "own, with its page or line range; with auto, the chapter summaries "
                                           "are merged into the whole.")] = False,
    model: ModelOpt = "default", output: OutputOpt = None, as_json: JsonOpt = False,
    max_new_tokens: MaxNewOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None, seed: SeedOpt = 0,
    quant: QuantOpt = None, prompts: PromptsOpt = None, quiet: QuietOpt = False,
) -> int:
    """Summarise documents: one pass when the text fits the model, else part by part along the
    document's chapters, pages or files, then merged. The record says which strategy ran.

    Example: minimax summarize samples/book.pdf --chapters -o summaries.jsonl"""
    spec = TaskSpec("summarize", length=length, strategy=strategy, chapters=chapters,
                    **generation(max_new_tokens, temperature, top_p, seed, prompts))
    return run_jobs(paths, spec, model, quant, output, as_json, quiet)


def ask(
    path: Annotated[str, typer.Argument(help="A file or folder (a repository) to answer from; '-' reads stdin.")],
    questions: Annotated[Optional[list[str]], typer.Argument(help="The question(s).")] = None,
    question: Annotated[list[str], typer.Option("--question", help="More questions over the same document "
                                                "(its prefill is paid once on the hybrid engine).")] = [],
    questions_file: Annotated[Optional[Path], typer.Option("--questions-file", help="A file with one question "
                                                           "per line.")] = None,
    model: ModelOpt = "default", output: OutputOpt = None, as_json: JsonOpt = False,
    max_new_tokens: MaxNewOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None, seed: SeedOpt = 0,
    quant: QuantOpt = None, prompts: PromptsOpt = None, quiet: QuietOpt = False,
) -> int:
    """Answer questions about a document or repository, with citations checked against the source
    (page and label for PDFs, line ranges for text and code).

    Example: minimax ask samples/repo "Where are session tokens verified?" """
    qs = texts(questions) + texts(question)
    if questions_file is not None:
        lines = read_text_file(questions_file, "questions file").splitlines()
        qs += [line.strip() for line in lines if line.strip()]
    spec = TaskSpec("ask", questions=tuple(qs), **generation(max_new_tokens, temperature, top_p, seed, prompts))
    return run_jobs([path], spec, model, quant, output, as_json, quiet)


def review(
    path: Annotated[str, typer.Argument(help="A file, a repository folder, or a unified diff (.diff/.patch, or "
                                        "'-'); with --diff, a file or folder inside a git work tree.")],
    diff: Annotated[Optional[str], typer.Option("--diff", help="Review only what changed against this revision "
                                                "(`git diff REV`: a branch, HEAD~1, a commit, "
                                                "main...HEAD).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="What stdout shows: text | jsonl (one finding a line) | "
                                     "sarif (SARIF 2.1.0) | rdjsonl (reviewdog) | markdown. Printed also with "
                                     "-o.")] = "text",
    model: ModelOpt = "default", output: OutputOpt = None, as_json: JsonOpt = False,
    max_new_tokens: MaxNewOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None, seed: SeedOpt = 0,
    quant: QuantOpt = None, prompts: PromptsOpt = None, quiet: QuietOpt = False,
) -> int:
    """Review code: findings with path, line range (checked to exist), severity, category,
    message and suggestion. A diff, or the changes against --diff REV, is reviewed hunk by hunk.

    Example: minimax review . --diff main --format sarif > review.sarif"""
    from minimax_cli.tasks.review_formats import FORMATS, render_findings

    # --format is the CLI's own (how stdout looks), so TaskSpec cannot check it.
    if fmt not in FORMATS:
        raise usage_error(f"--format must be one of {', '.join(FORMATS)}")
    if fmt != "text" and as_json:
        raise usage_error("--json prints records; use it or --format, not both")

    def shown(result) -> str:
        rendered = render_findings(fmt, result.result["findings"], result.text)
        if fmt != "text" and output is not None:  # the record goes to -o; the asked format still to stdout
            console.out(rendered)
        return rendered

    def load_changes(target: str):
        from minimax_cli.sources.gitdiff import load_git_diff

        return load_git_diff(target, diff)

    spec = TaskSpec("review", **generation(max_new_tokens, temperature, top_p, seed, prompts))
    return run_jobs([path], spec, model, quant, output, as_json, quiet,
                    load=load_changes if diff else None, shown=shown)


def translate(
    path: Annotated[str, typer.Argument(help="The document to translate ('-' reads stdin).")],
    to: Annotated[str, typer.Option("--to", help="Target language, e.g. French or fr.")],
    source_language: Annotated[Optional[str], typer.Option("--from", help="Source language (default: detected "
                                                           "by the model).")] = None,
    write: Annotated[Optional[Path], typer.Option("--write", help="Also write the translated document here "
                                                  "(default: next to the -o file, else not written).")] = None,
    glossary: Annotated[Optional[Path], typer.Option("--glossary", help="Terms to translate exactly as given: "
                                                     "one a line, `term = translation`, or the term alone to "
                                                     "keep it; or a JSON object. Paragraphs that miss one are "
                                                     "reported.")] = None,
    model: ModelOpt = "default", output: OutputOpt = None, as_json: JsonOpt = False,
    max_new_tokens: MaxNewOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None, seed: SeedOpt = 0,
    quant: QuantOpt = None, prompts: PromptsOpt = None, quiet: QuietOpt = False,
) -> int:
    """Translate a document paragraph by paragraph, every paragraph numbered and checked to come
    back; the record reports coverage and any misaligned paragraphs.

    Example: minimax translate samples/book.txt --to French -o out.jsonl"""
    from minimax_cli.tasks.glossary import load_glossary

    to = text(to)
    target = write
    if target is None and output is not None and path != "-":
        src = Path(path)
        target = output.parent / f"{src.stem}.{_lang_tag(to)}{src.suffix or '.txt'}"
    spec = TaskSpec("translate", to=to, source_language=text(source_language),
                    glossary=load_glossary(glossary) if glossary is not None else (),
                    **generation(max_new_tokens, temperature, top_p, seed, prompts))
    keep = None if target is None else (lambda result: write_atomically(target, result.result["translation"]))
    return run_jobs([path], spec, model, quant, output, as_json, quiet, keep=keep)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file renamed into place: a reader never sees
    half a translation, and a failed write leaves what was there."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _lang_tag(language: str) -> str:
    return "".join(c for c in language.lower() if c.isalnum())[:12] or "translated"
