"""ask: answers from the document, with citations checked against the source.

The document goes to the model as numbered excerpts tagged with their locators, the question last,
so several questions share one prompt prefix (and, on engines that snapshot it, one prefill). The
model answers in a small JSON shape citing excerpt numbers with exact quotes; each quote is found
in its excerpt before the citation is kept. A document too large for the window is cut to the
excerpts BM25 ranks best for each question, kept in document order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import Engine, Generation, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.sources.document import Document, Locator, Segment
from minimax_cli.tasks.citations import check_citation, cite
from minimax_cli.tasks.framing import SEPARATOR_TOKENS, frame_ask, render
from minimax_cli.tasks.jsonparse import find_json, flat_objects
from minimax_cli.tasks.plan import plan, slice_segment, split_text
from minimax_cli.tasks.prompts import chat, load_prompt
from minimax_cli.tasks.ranking import BM25
from minimax_cli.tasks.result import TaskResult, Usage
from minimax_cli.tasks.session import Session, cut_off

# When ranking, a segment larger than budget / RANK_PIECES is ranked in pieces, so the window
# always holds several excerpts rather than one huge file.
RANK_PIECES = 8
# Excerpt numbers are counted before the final numbering is known; this covers a longer number.
NUMBER_SLACK = 2

_DONT_KNOW = re.compile(
    r"\bi\s+(?:do\s+not|don'?t|don’t)\s+know\b"
    r"|\bnot\s+(?:found|mentioned|stated|given|provided|specified|covered|answered)\s+in\b"
    r"|\b(?:do|does)\s+not\s+(?:contain|mention|say|state|provide|answer)\b"
    r"|\bcannot\s+be\s+(?:determined|answered|found)\b"
    r"|\bno\s+information\b",
    re.IGNORECASE,
)
_ANSWER_FIELD = re.compile(r'"answer"\s*:\s*"((?:[^"\\]|\\.)*)', re.DOTALL)
_NUMBER = re.compile(r"(?:\[|excerpt\s*#?)?\s*(\d+)\b", re.IGNORECASE)
_FENCES = re.compile(r"^```[A-Za-z]*\s*|\s*```$")


@dataclass
class AskOptions:
    params: GenerationParams = field(default_factory=GenerationParams)
    prompt_dirs: tuple[Path, ...] = ()

    def settings(self) -> dict:
        return self.params.to_dict()


def ask(
    doc: Document, engine: Engine, questions: list[str], opts: AskOptions, progress: Progress = NULL_PROGRESS
) -> list[TaskResult]:
    """Answer each question from `doc`: {"question", "answer", "answered", "citations",
    "dropped_citations", "relocated_citations", "strategy"}, one result per question."""
    if not questions:
        return []
    if not doc.segments:
        raise MinimaxError(ErrorCode.EMPTY, "the document has no text", doc.path)
    session = Session("ask", engine, opts.params, progress, opts.prompt_dirs)
    question_tokens = max(engine.count_tokens(q) for q in questions)
    the_plan = plan(
        doc, engine, "ask", opts.params.max_new_tokens, extra_tokens=question_tokens, prompt_dirs=opts.prompt_dirs
    )
    if the_plan.fits:
        strategy = "single"
        shown = [list(doc.segments)] * len(questions)
    else:
        strategy = "ranked"
        units = _rank_units(doc, engine, the_plan.budget)
        bm25 = BM25([segment for segment, _ in units])
        shown = [_best(bm25.rank(q), units, the_plan.budget) for q in questions]

    template = load_prompt("ask", opts.prompt_dirs)
    source = doc.title or (doc.path if doc.path != "-" else "the document")
    conversations = [
        chat(template.render(source=source, excerpts=render(doc, excerpts, "ask"), question=q), opts.prompt_dirs)
        for q, excerpts in zip(questions, shown, strict=True)
    ]
    generations = engine.generate_many(conversations, opts.params, progress)
    return [
        _answer(session, doc, q, n, gen, excerpts, strategy, len(questions))
        for n, (q, gen, excerpts) in enumerate(zip(questions, generations, shown, strict=True), 1)
    ]


def parse_answer(text: str) -> tuple[str, list[tuple[object, object]], bool]:
    """The answer, the raw (excerpt, quote) citations, and whether the reply was the JSON asked for."""
    value = find_json(text, lambda v: isinstance(v, dict) and "answer" in v)
    if value is not None:
        cited = value.get("citations") or []
        cited = cited if isinstance(cited, list) else [cited]
        return _as_text(value["answer"]), [_citation(c) for c in cited], True
    field_ = _ANSWER_FIELD.search(text)
    if field_:  # broken JSON, often cut off: keep what can be read
        cited = [_citation(obj) for raw, obj in flat_objects(text[field_.end() :]) if '"quote"' in raw]
        return _unescape(field_.group(1)), cited, True
    return _FENCES.sub("", text.strip()).strip(), [], False


def verify(
    cited: list[tuple[object, object]], excerpts: list[Segment], doc: Document | None = None
) -> tuple[list[dict], int, int]:
    """The citations whose quote occurs in the excerpts (and, given `doc`, at the citation's
    locator in the document), how many were dropped, and how many were relocated.

    A quote is looked for first in the excerpt the model named, then in the others in order: small
    models often quote a passage exactly but number its excerpt wrong, and the quote, not the
    number, is the evidence. The written locator is always where the quote actually is."""
    kept: list[dict] = []
    dropped = relocated = 0
    for number, quote in cited:
        n = _excerpt_number(number, excerpts)
        named = [excerpts[n - 1]] if n is not None and 1 <= n <= len(excerpts) else []
        citation = None
        if isinstance(quote, str):
            for excerpt in named + [e for e in excerpts if e not in named]:
                citation = cite(excerpt, quote)
                if citation is not None and doc is not None and not check_citation(doc, citation):
                    citation = None
                if citation is not None:
                    relocated += excerpt not in named
                    break
        if citation is None:
            dropped += 1
        elif citation not in kept:
            kept.append(citation)
    return kept, dropped, relocated


def _answer(
    session: Session,
    doc: Document,
    question: str,
    n: int,
    gen: Generation,
    excerpts: list[Segment],
    strategy: str,
    count: int,
) -> TaskResult:
    answer, cited, structured = parse_answer(gen.text)
    citations, dropped, relocated = verify(cited, excerpts, doc)
    answered = bool(answer) and not (_DONT_KNOW.search(answer) and not citations)
    if not answered:
        citations = []
    warnings = cut_off(gen, f"the answer to question {n}", session.params)
    if not structured:
        warnings.append(f"the answer to question {n} was not the JSON asked for; it has no citations")
    if answered and not citations:
        warnings.append(f"no citation of the answer to question {n} could be verified")
    usage = Usage()
    usage.add(gen)
    result = {
        "question": question,
        "answer": answer,
        "answered": answered,
        "citations": citations,
        "dropped_citations": dropped,
        "relocated_citations": relocated,
        "strategy": strategy,
    }
    # The calls ran together; each question is charged an equal share of the elapsed time.
    return session.result(result, _render(answer, citations), strategy, usage, warnings, share=1 / count)


def _rank_units(doc: Document, engine: Engine, budget: int) -> list[tuple[Segment, int]]:
    """The segments, large ones in pieces, with their framed token counts."""
    limit = max(budget // RANK_PIECES, 1)
    units = []
    for i, segment in enumerate(doc.segments):
        tokens = engine.count_tokens(frame_ask(doc, segment, i + 1)) + SEPARATOR_TOKENS
        if tokens <= limit:
            units.append((segment, tokens))
            continue
        for a, b, piece_tokens in split_text(doc, engine, frame_ask, i, limit):
            units.append((slice_segment(segment, a, b), piece_tokens))
    return units


def _best(order: list[int], units: list[tuple[Segment, int]], budget: int) -> list[Segment]:
    """The best-ranked units that fill `budget`, in document order."""
    chosen, used = [], 0
    for i in order:
        cost = units[i][1] + NUMBER_SLACK
        if used + cost <= budget:
            chosen.append(i)
            used += cost
    return [units[i][0] for i in sorted(chosen)]


def _citation(item: object) -> tuple[object, object]:
    if not isinstance(item, dict):
        return None, None
    number = next((item[k] for k in ("excerpt", "source", "id", "number") if k in item), None)
    return number, item.get("quote", item.get("text"))


def _excerpt_number(value: object, excerpts: list[Segment]) -> int | None:
    """The excerpt a citation means: 3, "3", "[3]", "excerpt 3", or the excerpt's locator as shown."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    number = _NUMBER.match(text)
    if number:
        return int(number.group(1))
    same_place = [n for n, e in enumerate(excerpts, 1) if str(e.locator) == text]
    return same_place[0] if len(same_place) == 1 else None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _unescape(raw: str) -> str:
    try:
        return json.loads(f'"{raw}"').strip()
    except json.JSONDecodeError:
        return raw.strip()


def _render(answer: str, citations: list[dict]) -> str:
    if not citations:
        return answer
    lines = [answer, "", "Sources:"]
    for n, c in enumerate(citations, 1):
        where = Locator(**{k: v for k, v in c.items() if k != "quote"})
        lines.append(f'  [{n}] {where}: "{c["quote"]}"')
    return "\n".join(lines)
