"""`minimax inspect`: what a job would see in a document (tokens, pages, files, skips, the plan),
without loading the model's weights.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from minimax_cli.cli import console
from minimax_cli.cli.common import MaxNewOpt, ModelOpt, QuietOpt
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.errors import printable


def inspect(
    path: Annotated[str, typer.Argument(help="A file, folder or '-'.")],
    task: Annotated[str, typer.Option("--task", help="Plan for this job: summarize | ask | review | "
                                      "translate.")] = "summarize",
    model: ModelOpt = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    text: Annotated[bool, typer.Option("--text", help="Print the extracted text the model would see, each "
                                       "segment under a header line with its locator.")] = False,
    max_new_tokens: MaxNewOpt = None,
    quiet: QuietOpt = False,
) -> int:
    """Show what a job would see: tokens, pages or files, skipped files and why, and the plan (one
    pass or split into parts). Loads only the tokenizer, not the weights.

    Example: minimax inspect samples/repo --task ask"""
    from minimax_cli.sources import load_document
    from minimax_cli.tasks.plan import plan

    doc = load_document(path, stdin=sys.stdin)
    if text:
        for seg in doc.segments:
            console.out(f"==> {printable(str(seg.locator))} <==")  # a header is one line, whatever the name
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


def _print_inspect(doc, info, the_plan) -> None:
    # Names come from the file system and may hold newlines or terminal escapes: each is printed
    # escaped so that a line of this report stays one line.
    console.out(f"{printable(doc.path)}  ({doc.kind}, sha256 {doc.sha256[:12]})")
    if doc.title:
        console.out(f"title:    {printable(doc.title)}")
    if doc.pages is not None:
        console.out(f"pages:    {doc.pages}")
    if doc.files:
        console.out(f"files:    {len(doc.files)}")
    console.out(f"segments: {len(doc.segments)}, sections: {len(doc.sections)}")
    for skipped in doc.skipped:
        detail = f": {skipped.detail}" if skipped.detail else ""
        console.out(f"skipped:  {printable(skipped.path)} ({printable(f'{skipped.reason}{detail}')})")
    console.out(f"model:    {printable(info['model']['name'])} (context {the_plan.context_window} tokens)")
    console.out(f"tokens:   {the_plan.tokens} input + {the_plan.prompt_tokens} prompt + "
                f"{the_plan.answer_tokens} answer")
    if the_plan.strategy == "single":
        console.out(f"plan:     {the_plan.task} in one pass")
    else:
        console.out(f"plan:     {the_plan.task} split into {len(the_plan.parts)} parts of up to "
                    f"{the_plan.budget} tokens, then merged")
        for i, part in enumerate(the_plan.parts, 1):
            console.out(f"  {i:>3}. {printable(str(part.locator))}  ({part.tokens} tokens)")
