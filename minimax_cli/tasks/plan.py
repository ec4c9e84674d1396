"""Planning from token counts: one pass when the input fits, otherwise parts along the document's
own structure.

A plan counts every segment as its task shows it (see framing.py), plus the prompt template, the
system prompt and the chat template around them, and reserves room for the answer. When the whole
input does not fit the context window, consecutive top-level sections (chapters, files) are packed
into parts up to the budget; a section too large is split by its segments, and a segment too large
by its text, at a line break or other whitespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from minimax_cli.engine.base import Engine
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.document import Document, Locator, Section, Segment
from minimax_cli.tasks.framing import FRAMES, SEPARATOR_TOKENS, Frame
from minimax_cli.tasks.prompts import chat, load_prompt

# The template whose prompt carries the whole document, and the one that carries a part.
STEP_PROMPTS: dict[str, tuple[str, str]] = {
    "summarize": ("summarize_single", "summarize_map"),
    "ask": ("ask", "ask"),
    "review": ("review", "review"),
    "translate": ("translate", "translate"),
}


@dataclass
class Part:
    """Segments `[start, end)` sent together; `chars` slices segment `start` when it alone is too large."""

    start: int
    end: int
    tokens: int
    locator: str = ""  # what it covers, for people: "Chapter 2 (pages 14–30)", "app/auth.py"
    sections: list[str] = field(default_factory=list)
    chars: tuple[int, int] | None = None

    def segments(self, doc: Document) -> list[Segment]:
        if self.chars is None:
            return doc.segments[self.start : self.end]
        return [slice_segment(doc.segments[self.start], *self.chars)]

    def to_dict(self) -> dict:
        out: dict = {"start": self.start, "end": self.end, "tokens": self.tokens, "locator": self.locator}
        if self.sections:
            out["sections"] = self.sections
        if self.chars is not None:
            out["chars"] = list(self.chars)
        return out


@dataclass
class Plan:
    task: str
    tokens: int  # the input, as the task frames it
    prompt_tokens: int  # system prompt, template and chat template around the input
    answer_tokens: int
    context_window: int
    fits: bool
    strategy: str  # single | split
    parts: list[Part]
    budget: int = 0  # input tokens one part may hold (split plans)

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "answer_tokens": self.answer_tokens,
            "context_window": self.context_window,
            "fits": self.fits,
            "strategy": self.strategy,
            "budget": self.budget,
            "parts": [p.to_dict() for p in self.parts],
        }


def prompt_tokens(engine: Engine, step: str, prompt_dirs: Sequence[Path] = (), **values: str) -> int:
    """Tokens of the chat for template `step` with its placeholders empty (or as given)."""
    template = load_prompt(step, prompt_dirs)
    filled = {name: values.get(name, "") for name in template.placeholders()}
    return engine.count_chat_tokens(chat(template.render(**filled), prompt_dirs))


def plan(
    doc: Document,
    engine: Engine,
    task: str,
    answer_tokens: int,
    *,
    part_answer_tokens: int | None = None,
    extra_tokens: int = 0,
    part_extra_tokens: int = 0,
    split: bool = False,
    steps: tuple[str, str] | None = None,
    prompt_dirs: Sequence[Path] = (),
) -> Plan:
    """Plan `task` over `doc`: one pass if it fits with `answer_tokens` to spare, else parts.

    `part_answer_tokens` is the answer each part needs when it differs (summaries of parts);
    `extra_tokens` is prompt text besides the document (ask's question), `part_extra_tokens` more
    of it that only parts carry (the running summary of incremental summarising); `split` forces
    parts, one per top-level section, even when the whole fits; `steps` names the templates of the
    whole and of a part when they differ from the task's usual ones.
    """
    single_step, part_step = steps or STEP_PROMPTS[task]
    frame = FRAMES[task]
    seg_tokens = [engine.count_tokens(frame(doc, s, i + 1)) + SEPARATOR_TOKENS for i, s in enumerate(doc.segments)]
    total = sum(seg_tokens)
    overhead = prompt_tokens(engine, single_step, prompt_dirs) + extra_tokens
    window = engine.context_window
    fits = overhead + total + answer_tokens <= window
    if fits and not split:
        whole = Part(0, len(doc.segments), total)
        whole.locator = describe(doc, whole)
        return Plan(task, total, overhead, answer_tokens, window, True, "single", [whole], budget=total)

    part_answer = answer_tokens if part_answer_tokens is None else part_answer_tokens
    part_overhead = prompt_tokens(engine, part_step, prompt_dirs) + extra_tokens + part_extra_tokens
    budget = window - part_overhead - part_answer
    if budget < 16:
        raise MinimaxError(
            ErrorCode.TOO_LARGE,
            f"the {window}-token context window leaves no room for input after the prompt "
            f"({part_overhead} tokens) and the answer ({part_answer} tokens)",
            doc.path,
        )
    parts = _pack(_units(doc, engine, frame, seg_tokens, budget), budget, keep_sections_apart=split)
    for part in parts:
        part.locator = describe(doc, part)
    return Plan(task, total, overhead, answer_tokens, window, fits, "split", parts, budget=budget)


@dataclass
class _Unit:
    """The smallest run planning moves as one: a whole section, one segment, or a slice of one."""

    start: int
    end: int
    tokens: int
    section: str | None
    whole_section: bool = False
    chars: tuple[int, int] | None = None


def top_sections(doc: Document) -> list[Section]:
    """The outermost sections (chapters, files) in document order, without overlaps."""
    if not doc.sections:
        return []
    top = min(s.level for s in doc.sections)
    ordered = sorted((s for s in doc.sections if s.level == top), key=lambda s: s.start)
    kept, pos = [], 0
    for section in ordered:  # overlapping sections from a sloppy outline: first one wins
        if pos <= section.start < section.end <= len(doc.segments):
            kept.append(section)
            pos = section.end
    return kept


def _units(doc: Document, engine: Engine, frame: Frame, seg_tokens: list[int], budget: int) -> list[_Unit]:
    units: list[_Unit] = []

    def segments(start: int, end: int, title: str | None) -> None:
        for i in range(start, end):
            if seg_tokens[i] <= budget:
                units.append(_Unit(i, i + 1, seg_tokens[i], title))
                continue
            for a, b, tokens in split_text(doc, engine, frame, i, budget):
                units.append(_Unit(i, i + 1, tokens, title, chars=(a, b)))

    pos = 0
    for section in top_sections(doc):
        segments(pos, section.start, None)
        tokens = sum(seg_tokens[section.start : section.end])
        if tokens <= budget:
            units.append(_Unit(section.start, section.end, tokens, section.title, whole_section=True))
        else:
            segments(section.start, section.end, section.title)
        pos = section.end
    segments(pos, len(doc.segments), None)
    return units


def _pack(units: list[_Unit], budget: int, keep_sections_apart: bool) -> list[Part]:
    parts: list[Part] = []
    current: Part | None = None
    for unit in units:
        joins = (
            current is not None
            and current.chars is None
            and unit.chars is None
            and current.tokens + unit.tokens <= budget
            and (not keep_sections_apart or _same_section(current, unit))
        )
        if joins:
            current.end = unit.end
            current.tokens += unit.tokens
            if unit.section and unit.section not in current.sections:
                current.sections.append(unit.section)
        else:
            current = Part(unit.start, unit.end, unit.tokens, chars=unit.chars)
            if unit.section:
                current.sections.append(unit.section)
            parts.append(current)
    return parts


def _same_section(part: Part, unit: _Unit) -> bool:
    """Whether `unit` may join `part` when sections are kept apart: text outside any section (a
    title page, an appendix) joins its neighbour; a section too large for one part continues."""
    if unit.section is None or not part.sections:
        return True
    return not unit.whole_section and part.sections == [unit.section]


def split_text(doc: Document, engine: Engine, frame: Frame, index: int, max_tokens: int) -> list[tuple[int, int, int]]:
    """Cut segment `index` into `(start_char, end_char, tokens)` slices of at most `max_tokens` as
    framed, at line breaks where possible, else at whitespace, else anywhere."""
    segment = doc.segments[index]
    text = segment.text

    def tokens(a: int, b: int) -> int:
        return engine.count_tokens(frame(doc, slice_segment(segment, a, b), index + 1)) + SEPARATOR_TOKENS

    chars_per_token = max(len(text) / max(tokens(0, len(text)), 1), 0.1)
    slices = []
    a = 0
    while a < len(text):
        whole = tokens(a, len(text))
        if whole <= max_tokens:
            slices.append((a, len(text), whole))
            break
        target = a + max(int(max_tokens * chars_per_token * 0.9), 1)
        b = _cut(text, a, target)
        count = tokens(a, b)
        while count > max_tokens and b - a > 1:
            b = _cut(text, a, a + max((b - a) * 3 // 4, 1))
            count = tokens(a, b)
        slices.append((a, b, count))
        a = b
    return slices


def _cut(text: str, start: int, target: int) -> int:
    """A cut point after `start`, at or before `target`: after a newline in the back half, else
    after whitespace, else `target` itself."""
    target = min(max(target, start + 1), len(text))
    floor = start + (target - start) // 2
    newline = text.rfind("\n", floor, target)
    if newline >= start:
        return newline + 1
    for i in range(target - 1, start, -1):
        if text[i].isspace():
            return i + 1
    return target


def slice_segment(segment: Segment, start: int, end: int) -> Segment:
    """Characters `[start, end)` of a segment, its locator narrowed to the lines they span."""
    text = segment.text[start:end]
    loc = segment.locator
    if loc.start_line is None:
        return Segment(text, loc)
    first = loc.start_line + segment.text.count("\n", 0, start)
    last = first + text.rstrip("\n").count("\n")
    return Segment(text, replace(loc, start_line=first, end_line=last))


def describe(doc: Document, part: Part) -> str:
    """What a part covers: its section titles and its pages, lines, files or items."""
    segments = part.segments(doc)
    where = _where(segments, several_files=len({s.locator.path for s in doc.segments}) > 1)
    if not part.sections or set(part.sections) <= {s.locator.path for s in segments}:
        return where  # no titles, or titles that are the file names (a repository's sections)
    title = part.sections[0] if len(part.sections) == 1 else f"{part.sections[0]} – {part.sections[-1]}"
    return f"{title} ({where})" if where else title


def extent(segments: list[Segment]) -> dict:
    """What a run of segments covers, as data: `{"path", "pages": [a, b], "page_labels": [a, b]}`
    for PDFs, `{"path", "lines": [a, b]}` for text and code, `{"files": [...]}` across files."""
    if not segments:
        return {}
    paths = list(dict.fromkeys(s.locator.path for s in segments))
    if len(paths) > 1:
        return {"files": paths}
    first, last = segments[0].locator, segments[-1].locator
    out: dict = {"path": first.path}
    if first.page is not None:
        out["pages"] = [first.page, last.page]
        if first.page_label is not None or last.page_label is not None:
            out["page_labels"] = [first.page_label, last.page_label]
    elif first.start_line is not None:
        out["lines"] = [first.start_line, last.end_line or last.start_line]
    elif first.item is not None:
        out["items"] = [first.item, last.item]
    return out


def _where(segments: list[Segment], several_files: bool) -> str:
    if not segments:
        return ""
    paths = list(dict.fromkeys(s.locator.path for s in segments))
    if len(paths) > 3:
        return f"{paths[0]} … {paths[-1]} ({len(paths)} files)"
    if len(paths) > 1:
        return ", ".join(paths)
    first, last = segments[0].locator, segments[-1].locator
    prefix = f"{first.path} " if several_files else ""
    if first.page is not None:
        a, b = _page_name(first), _page_name(last)
        return f"{prefix}page {a}" if a == b else f"{prefix}pages {a}–{b}"
    if first.start_line is not None:
        end = last.end_line or last.start_line
        if several_files:
            return f"{first.path}:{first.start_line}-{end}"
        return f"line {end}" if first.start_line == end else f"lines {first.start_line}–{end}"
    if first.item is not None:
        return f"{prefix}{first.item}" if first.item == last.item else f"{prefix}{first.item} – {last.item}"
    return first.path


def _page_name(loc: Locator) -> str:
    return loc.page_label or str(loc.page)
