"""summarize: one pass when the document fits, otherwise along its own structure.

Strategies (BooookScore's two workflows, plus the single pass):
- single: the whole document in one call.
- hierarchical: each part of the plan (chapters, pages, files) is summarised with its locator, then
  the part summaries are merged, in groups and then the groups' summaries when they together
  exceed the window.
- incremental: the parts in order, each call updating a running summary of everything so far.
`auto` runs single when the document fits and hierarchical when it does not.

With `chapters`, each top-level section (chapter, file) is also summarised on its own, with its page
or line range; under `auto` and `hierarchical` those chapter summaries are the parts that get
merged, so no text is read twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from minimax_cli.engine.base import Engine, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.sources.document import Document, Segment
from minimax_cli.tasks.framing import SEPARATOR, SEPARATOR_TOKENS, render
from minimax_cli.tasks.plan import Part, Plan, describe, extent, plan, prompt_tokens, top_sections
from minimax_cli.tasks.prompts import chat, load_prompt
from minimax_cli.tasks.result import TaskResult
from minimax_cli.tasks.session import Call, Session

# Target length of the final summary in words; max_new_tokens is at least 2x this (jobs.TOKENS_PER_WORD).
LENGTH_WORDS = {"short": 120, "medium": 300, "long": 700}
STRATEGIES = ("auto", "single", "hierarchical", "incremental")
# A reduce call must hold at least this many part summaries, so merging always makes progress.
MIN_GROUP = 3
PART_STEPS = ("summarize_map", "summarize_map")  # a chapter or a piece is read as "one part"


@dataclass
class SummarizeOptions:
    length: str = "medium"  # short | medium | long
    strategy: str = "auto"  # auto | single | hierarchical | incremental
    params: GenerationParams = field(default_factory=GenerationParams)
    prompt_dirs: tuple[Path, ...] = ()
    chapters: bool = False  # also a summary per top-level section, with its range

    def settings(self) -> dict:
        return {**self.params.to_dict(), "length": self.length, "strategy": self.strategy, "chapters": self.chapters}


@dataclass
class _Run:
    """Consecutive segments `[start, end)` summarised as one unit; `title` None for text outside
    any chapter (a title page, an appendix)."""

    title: str | None
    start: int
    end: int


def summarize(doc: Document, engine: Engine, opts: SummarizeOptions, progress: Progress = NULL_PROGRESS) -> TaskResult:
    """Summarize `doc`: {"summary", "strategy", "parts" (when split), "chapters" (when asked)}."""
    session = Session("summarize", engine, opts.params, progress, opts.prompt_dirs)
    the_plan = summarize_plan(doc, engine, opts)
    words = LENGTH_WORDS[opts.length]
    steps = _Steps(session, doc, opts)
    runs = _chapter_runs(doc) if opts.chapters else []
    if opts.chapters and not any(r.title for r in runs):
        session.warnings.append("the document has no chapters or sections; no per-chapter summaries")
    strategy = _strategy(opts, the_plan, runs)
    result: dict = {"strategy": strategy}

    run_summaries = steps.runs(runs) if any(r.title for r in runs) else []
    if strategy == "single":
        result["summary"] = steps.single(words)
    elif strategy == "incremental":
        result["summary"], result["parts"] = steps.incremental(the_plan.parts, words)
    else:
        if run_summaries:
            parts = [{k: v for k, v in r.items() if k != "title"} for r in run_summaries]
        else:
            parts = steps.parts(the_plan.parts)
        items = [(p["locator"], p["summary"]) for p in parts]
        result["summary"] = steps.reduce(items, words, opts.params.max_new_tokens)
        result["parts"] = parts
    if opts.chapters:
        result["chapters"] = [r for r in run_summaries if r["title"]]
    return session.result(result, _render(result), strategy)


def summarize_plan(doc: Document, engine: Engine, opts: SummarizeOptions) -> Plan:
    """The plan summarize follows (what `inspect` shows for summarize)."""
    if opts.length not in LENGTH_WORDS:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"length must be one of {', '.join(LENGTH_WORDS)}")
    if opts.strategy not in STRATEGIES:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"strategy must be one of {', '.join(STRATEGIES)}")
    if not doc.segments:
        raise MinimaxError(ErrorCode.EMPTY, "the document has no text", doc.path)
    incremental = opts.strategy == "incremental"
    the_plan = plan(
        doc,
        engine,
        "summarize",
        opts.params.max_new_tokens,
        part_answer_tokens=opts.params.max_new_tokens if incremental else map_tokens(engine, opts),
        # an update call carries the running summary, which is at most one answer long
        part_extra_tokens=opts.params.max_new_tokens if incremental else 0,
        split=opts.strategy == "hierarchical",
        steps=("summarize_single", "summarize_update") if incremental else None,
        prompt_dirs=opts.prompt_dirs,
    )
    if opts.strategy == "single" and not the_plan.fits:
        raise MinimaxError(
            ErrorCode.TOO_LARGE,
            f"the document needs {the_plan.tokens + the_plan.prompt_tokens} prompt tokens plus "
            f"{the_plan.answer_tokens} for the summary, more than the {the_plan.context_window}-token "
            "context window; use --strategy auto, hierarchical or incremental",
            doc.path,
        )
    return the_plan


def map_tokens(engine: Engine, opts: SummarizeOptions) -> int:
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


def _strategy(opts: SummarizeOptions, the_plan: Plan, runs: list[_Run]) -> str:
    if opts.strategy == "auto":
        if any(r.title for r in runs):
            return "hierarchical"  # the chapter summaries are read anyway: merge them
        return "single" if the_plan.strategy == "single" else "hierarchical"
    if opts.strategy == "incremental" and the_plan.strategy == "single":
        return "single"  # one part: updating a summary of nothing is a single pass
    return opts.strategy


def _chapter_runs(doc: Document) -> list[_Run]:
    """The top-level sections, and the text between and around them, covering every segment."""
    runs: list[_Run] = []
    pos = 0
    for section in top_sections(doc):
        if section.start > pos:
            runs.append(_Run(None, pos, section.start))
        runs.append(_Run(section.title, section.start, section.end))
        pos = section.end
    if pos < len(doc.segments):
        runs.append(_Run(None, pos, len(doc.segments)))
    return runs


class _Steps:
    """The calls of one summary: single pass, map, update, reduce, and runs of segments."""

    def __init__(self, session: Session, doc: Document, opts: SummarizeOptions):
        self.session = session
        self.engine = session.engine
        self.doc = doc
        self.opts = opts
        self.map_tokens = map_tokens(self.engine, opts)
        self.map_words = min(LENGTH_WORDS[opts.length], max(self.map_tokens * 2 // 3, 1))

    def single(self, words: int) -> str:
        template = load_prompt("summarize_single", self.opts.prompt_dirs)
        user = template.render(words=words, document=render(self.doc, self.doc.segments, "summarize"))
        return self._call(user, "the summary")

    def map(self, segments: list[Segment], locator: str, what: str) -> Call:
        """The call that summarizes `segments` on their own."""
        template = load_prompt("summarize_map", self.opts.prompt_dirs)
        user = template.render(
            locator=locator, words=self.map_words, document=render(self.doc, segments, "summarize")
        )
        return Call(chat(user, self.opts.prompt_dirs), what, self.map_tokens)

    def parts(self, parts: list[Part]) -> list[dict]:
        """A summary of each part of the plan, with what it covers; all parts in flight at once."""
        out = []
        task = self.session.progress.task("Summarizing parts", total=len(parts), unit="parts")
        segments = [part.segments(self.doc) for part in parts]
        calls = [self.map(s, part.locator, f"the summary of part {n}") for n, (part, s) in
                 enumerate(zip(parts, segments), 1)]
        for part, segs, generation in zip(parts, segments, self.session.stream(calls)):
            out.append({"locator": part.locator, **extent(segs), "summary": generation.text.strip()})
            task.advance()
        task.close()
        return out

    def runs(self, runs: list[_Run]) -> list[dict]:
        """A summary of each run (a chapter, or the text around chapters), each in one call when
        it fits and else in pieces merged into one. Every run's calls are in flight at once; the
        merges follow as their pieces come back."""
        task = self.session.progress.task("Summarizing chapters", total=len(runs), unit="chapters")
        jobs = []  # (run, segments, locator, name, piece locators)
        calls: list[Call] = []
        for run in runs:
            segments = self.doc.segments[run.start : run.end]
            sub = replace(self.doc, segments=segments, sections=[])
            whole = Part(0, len(segments), 0, sections=[run.title] if run.title else [])
            locator = describe(sub, whole)
            name = f"the summary of {run.title or locator}"
            pieces = plan(
                sub,
                self.engine,
                "summarize",
                self.map_tokens,
                steps=PART_STEPS,
                prompt_dirs=self.opts.prompt_dirs,
            ).parts
            if len(pieces) == 1:
                calls.append(self.map(segments, locator, name))
                jobs.append((run, segments, locator, None))
            else:
                calls += [self.map(p.segments(sub), f"{locator}, {p.locator}", f"{name}, piece {i}")
                          for i, p in enumerate(pieces, 1)]
                jobs.append((run, segments, locator, [p.locator for p in pieces]))
        answers = self.session.stream(calls)
        out = []
        for run, segments, locator, piece_locators in jobs:
            if piece_locators is None:
                summary = next(answers).text.strip()
            else:
                items = [(label, next(answers).text.strip()) for label in piece_locators]
                summary = self.reduce(items, self.map_words, self.map_tokens)
            out.append({"title": run.title, "locator": locator, **extent(segments), "summary": summary})
            task.advance()
        task.close()
        return out

    def incremental(self, parts: list[Part], words: int) -> tuple[str, list[dict]]:
        """A running summary updated part by part; each part records the summary after it."""
        update = load_prompt("summarize_update", self.opts.prompt_dirs)
        first = load_prompt("summarize_map", self.opts.prompt_dirs)
        tokens = self.opts.params.max_new_tokens
        summary, covered, out = "", "", []
        task = self.session.progress.task("Updating the summary", total=len(parts), unit="parts")
        for n, part in enumerate(parts, 1):
            segments = part.segments(self.doc)
            document = render(self.doc, segments, "summarize")
            if n == 1:
                user = first.render(locator=part.locator, words=words, document=document)
            else:
                user = update.render(
                    summary=summary, covered=covered, locator=part.locator, words=words, document=document
                )
            summary = self._call(user, f"the summary updated with part {n}", tokens)
            covered = part.locator if n == 1 else f"{parts[0].locator} – {part.locator}"
            out.append({"locator": part.locator, **extent(segments), "summary": summary})
            task.advance()
        task.close()
        return summary, out

    def reduce(self, items: list[tuple[str, str]], words: int, tokens: int) -> str:
        """Merge labelled summaries into one of `words` words, in rounds of groups while they
        exceed the window."""
        template = load_prompt("summarize_reduce", self.opts.prompt_dirs)
        overhead = prompt_tokens(self.engine, "summarize_reduce", self.opts.prompt_dirs)
        window = self.engine.context_window
        round_ = 0
        while True:
            blocks = [f"[{label}]\n{summary}" for label, summary in items]
            sizes = [self.engine.count_tokens(b) + SEPARATOR_TOKENS for b in blocks]
            if overhead + sum(sizes) + tokens <= window:
                user = template.render(words=words, summaries=SEPARATOR.join(blocks))
                return self._call(user, "the merged summary", tokens)
            round_ += 1
            groups = _groups(sizes, window - overhead - self.map_tokens)
            if len(groups) >= len(items):
                raise MinimaxError(ErrorCode.TOO_LARGE, "part summaries are too long to merge in this context window")
            merged = []
            for g, (start, end) in enumerate(groups, 1):
                user = template.render(words=self.map_words, summaries=SEPARATOR.join(blocks[start:end]))
                text = self._call(user, f"the merged summary {g} of round {round_}", self.map_tokens)
                label = items[start][0] if end - start == 1 else f"{items[start][0]} – {items[end - 1][0]}"
                merged.append((label, text))
            items = merged

    def _call(self, user: str, what: str, max_new_tokens: int | None = None) -> str:
        messages = chat(user, self.opts.prompt_dirs)
        return self.session.generate(messages, what, max_new_tokens).text.strip()


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


def _render(result: dict) -> str:
    lines = [result["summary"]]
    for chapter in result.get("chapters", []):
        lines += ["", f"## {chapter['locator']}", chapter["summary"]]
    return "\n".join(lines)
