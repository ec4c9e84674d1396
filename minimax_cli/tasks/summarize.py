"""summarize: one pass when the document fits, otherwise map and reduce.

Map summarises each part of the plan (chapters, pages, files), telling the model which part it
reads; reduce merges the part summaries, in groups and then the groups' summaries when they
together exceed the window (BooookScore's hierarchical merging).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import Engine, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.sources.document import Document
from minimax_cli.tasks.framing import SEPARATOR, SEPARATOR_TOKENS, render
from minimax_cli.tasks.plan import Plan, plan, prompt_tokens
from minimax_cli.tasks.prompts import chat, load_prompt
from minimax_cli.tasks.result import TaskResult
from minimax_cli.tasks.session import Session

# Target length of the final summary in words; set max_new_tokens to at least ~1.5x this.
LENGTH_WORDS = {"short": 120, "medium": 300, "long": 700}
STRATEGIES = ("auto", "single", "hierarchical")
# A reduce call must hold at least this many part summaries, so merging always makes progress.
MIN_GROUP = 3


@dataclass
class SummarizeOptions:
    length: str = "medium"  # short | medium | long
    strategy: str = "auto"  # auto: one pass if it fits | single: one pass or fail | hierarchical: per section
    params: GenerationParams = field(default_factory=GenerationParams)
    prompt_dirs: tuple[Path, ...] = ()

    def settings(self) -> dict:
        return {**self.params.to_dict(), "length": self.length, "strategy": self.strategy}


def summarize(doc: Document, engine: Engine, opts: SummarizeOptions, progress: Progress = NULL_PROGRESS) -> TaskResult:
    """Summarize `doc`: {"summary", "parts" (when split), "strategy"}."""
    session = Session("summarize", engine, opts.params, progress, opts.prompt_dirs)
    the_plan = summarize_plan(doc, engine, opts)
    words = LENGTH_WORDS[opts.length]
    if the_plan.strategy == "single" or (len(the_plan.parts) == 1 and the_plan.fits):
        template = load_prompt("summarize_single", opts.prompt_dirs)
        user = template.render(words=words, document=render(doc, doc.segments, "summarize"))
        summary = session.generate(chat(user, opts.prompt_dirs), "the summary").text.strip()
        return session.result({"summary": summary, "strategy": "single"}, summary, "single")

    map_tokens = _map_tokens(engine, opts)
    map_words = min(words, max(map_tokens * 2 // 3, 1))
    template = load_prompt("summarize_map", opts.prompt_dirs)
    parts = []
    task = progress.task("Summarizing parts", total=len(the_plan.parts), unit="parts")
    for n, part in enumerate(the_plan.parts, 1):
        user = template.render(
            locator=part.locator, words=map_words, document=render(doc, part.segments(doc), "summarize")
        )
        generation = session.generate(chat(user, opts.prompt_dirs), f"the summary of part {n}", map_tokens)
        parts.append({"locator": part.locator, "summary": generation.text.strip()})
        task.advance()
    task.close()
    summary = _reduce(session, opts, [(p["locator"], p["summary"]) for p in parts], map_tokens, map_words)
    result = {"summary": summary, "parts": parts, "strategy": "hierarchical"}
    return session.result(result, summary, "hierarchical")


def summarize_plan(doc: Document, engine: Engine, opts: SummarizeOptions) -> Plan:
    """The plan summarize follows (what `inspect` shows for summarize)."""
    if opts.length not in LENGTH_WORDS:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"length must be one of {', '.join(LENGTH_WORDS)}")
    if opts.strategy not in STRATEGIES:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"strategy must be one of {', '.join(STRATEGIES)}")
    if not doc.segments:
        raise MinimaxError(ErrorCode.EMPTY, "the document has no text", doc.path)
    the_plan = plan(
        doc,
        engine,
        "summarize",
        opts.params.max_new_tokens,
        part_answer_tokens=_map_tokens(engine, opts),
        split=opts.strategy == "hierarchical",
        prompt_dirs=opts.prompt_dirs,
    )
    if opts.strategy == "single" and not the_plan.fits:
        raise MinimaxError(
            ErrorCode.TOO_LARGE,
            f"the document needs {the_plan.tokens + the_plan.prompt_tokens} prompt tokens plus "
            f"{the_plan.answer_tokens} for the summary, more than the {the_plan.context_window}-token "
            "context window; use --strategy auto or hierarchical",
            doc.path,
        )
    return the_plan


def _map_tokens(engine: Engine, opts: SummarizeOptions) -> int:
    """The length of a part summary: the final answer's, or less so that MIN_GROUP of them fit
    one reduce call."""
    room = engine.context_window - prompt_tokens(engine, "summarize_reduce", opts.prompt_dirs)
    room -= opts.params.max_new_tokens
    if room // (MIN_GROUP + 1) < 16:  # too small a window, whatever the answer length asked
        raise MinimaxError(
            ErrorCode.TOO_LARGE,
            f"the {engine.context_window}-token context window is too small to merge part summaries "
            f"with max_new_tokens={opts.params.max_new_tokens}",
        )
    return min(opts.params.max_new_tokens, room // (MIN_GROUP + 1))


def _reduce(
    session: Session, opts: SummarizeOptions, items: list[tuple[str, str]], map_tokens: int, map_words: int
) -> str:
    """Merge labelled summaries into one, in rounds of groups while they exceed the window."""
    engine = session.engine
    template = load_prompt("summarize_reduce", opts.prompt_dirs)
    overhead = prompt_tokens(engine, "summarize_reduce", opts.prompt_dirs)
    round_ = 0
    while True:
        blocks = [f"[{label}]\n{summary}" for label, summary in items]
        sizes = [engine.count_tokens(b) + SEPARATOR_TOKENS for b in blocks]
        if overhead + sum(sizes) + opts.params.max_new_tokens <= engine.context_window:
            user = template.render(words=LENGTH_WORDS[opts.length], summaries=SEPARATOR.join(blocks))
            return session.generate(chat(user, opts.prompt_dirs), "the merged summary").text.strip()
        round_ += 1
        groups = _groups(sizes, engine.context_window - overhead - map_tokens)
        if len(groups) >= len(items):
            raise MinimaxError(ErrorCode.TOO_LARGE, "part summaries are too long to merge in this context window")
        merged = []
        for g, (start, end) in enumerate(groups, 1):
            user = template.render(words=map_words, summaries=SEPARATOR.join(blocks[start:end]))
            what = f"the merged summary {g} of round {round_}"
            generation = session.generate(chat(user, opts.prompt_dirs), what, map_tokens)
            label = items[start][0] if end - start == 1 else f"{items[start][0]} – {items[end - 1][0]}"
            merged.append((label, generation.text.strip()))
        items = merged


def _groups(sizes: list[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive runs `[start, end)` of items whose sizes sum to at most `budget`."""
    groups: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > budget:
            groups.append((start, i))
            start, total = i, 0
        total += size
    groups.append((start, len(sizes)))
    return groups
