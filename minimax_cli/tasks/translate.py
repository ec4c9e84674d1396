"""translate: paragraph by numbered paragraph, with alignment checked.

Paragraphs go to the model in blocks of `<p id="N">...</p>` units and must come back with the same
ids, each once and non-empty. A block that does not is retried once paragraph by paragraph; a
paragraph that still fails is listed as misaligned and keeps its source text, so no translation
ever lands under the wrong paragraph. Code blocks are not sent; Markdown line markers are put back
from the source. With a glossary, each block's prompt lists the terms it contains, and paragraphs
whose translation lacks a required term are reported. A paragraph larger than one block (a text
with no blank lines is a single paragraph) is sent as pieces of whole lines, or of whole sentences
for one overlong line, and put back together; it counts as translated when every piece came back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import Engine, Generation, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.sources.document import Document
from minimax_cli.tasks.glossary import Term, fingerprint, missed, prompt_lines, terms_in
from minimax_cli.tasks.paragraphs import Paragraph, restore_markers, split_paragraphs
from minimax_cli.tasks.plan import prompt_tokens
from minimax_cli.tasks.prompts import chat, load_prompt
from minimax_cli.tasks.result import TaskResult
from minimax_cli.tasks.session import Call, Session

# Common language codes, spelled out: small models follow "French" better than "fr".
LANGUAGES = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "zh-cn": "Simplified Chinese",
    "zh-tw": "Traditional Chinese",
}
# A translation runs about as long as its source; allow twice that (scripts and tokenizers differ).
EXPANSION = 2
_UNIT = re.compile(r"""<p\s+id\s*=\s*["']?(\d+)["']?\s*>""", re.IGNORECASE)
_CLOSE = re.compile(r"\s*</p>\s*$", re.IGNORECASE)


@dataclass
class TranslateOptions:
    to: str  # target language: a name ("French") or a code ("fr")
    source_language: str | None = None  # None: the model works it out
    params: GenerationParams = field(default_factory=GenerationParams)
    prompt_dirs: tuple[Path, ...] = ()
    glossary: tuple[Term, ...] = ()  # terms to translate exactly as given (glossary.load_glossary)

    def settings(self) -> dict:
        settings = {**self.params.to_dict(), "to": self.to, "source_language": self.source_language}
        if self.glossary:
            settings["glossary_sha256"] = fingerprint(self.glossary)
        return settings


def translate(doc: Document, engine: Engine, opts: TranslateOptions, progress: Progress = NULL_PROGRESS) -> TaskResult:
    """Translate `doc`: {"to", "translation", "coverage", "paragraphs", "misaligned"}, and with a
    glossary "glossary_missed": [{"id", "terms"}]."""
    if not opts.to.strip():
        raise MinimaxError(ErrorCode.BAD_REQUEST, "translate needs a target language")
    session = Session("translate", engine, opts.params, progress, opts.prompt_dirs)
    translator = _Translator(session, opts)
    paragraphs = split_paragraphs(doc.text)
    todo = [p for p in paragraphs.items if p.translatable]
    units, pieces = translator.units(todo, first_id=len(paragraphs.items) + 1)
    done: dict[int, str] = {}  # unit id -> its translation
    task = progress.task("Translating", total=len(units), unit="paragraphs")
    blocks = translator.blocks(units)
    # every block's call goes out ahead (a window of them in flight); a block too large for the
    # window has no call and stays in the source language
    calls = [translator.call(block) for block in blocks]
    answers = session.stream(call for call in calls if call is not None)
    for block, call in zip(blocks, calls):
        answer = None if call is None else translator.parse(block, next(answers))
        if answer is None and len(block) > 1:
            answer = {}
            for unit in block:
                answer.update(translator.block([unit]) or {})
        done.update({u.id: restore_markers(u.text, answer[u.id]) for u in block if answer and u.id in answer})
        task.advance(len(block))
    task.close()
    translated: dict[int, str] = {}  # paragraph id -> its text in the output, translated in whole or part
    misaligned: list[int] = []
    glossary_missed: list[dict] = []
    for paragraph in todo:
        parts = pieces.get(paragraph.id, [Piece(paragraph, "")])
        if any(p.unit.id in done for p in parts):
            translated[paragraph.id] = "".join(done.get(p.unit.id, p.unit.text) + p.separator for p in parts)
        if all(p.unit.id in done for p in parts):
            if terms := missed(opts.glossary, paragraph.text, translated[paragraph.id]):
                glossary_missed.append({"id": paragraph.id, "terms": terms})
        else:
            misaligned.append(paragraph.id)
    text = paragraphs.join(translated)
    if misaligned:
        session.warnings.append(f"{len(misaligned)} misaligned paragraph(s) kept in the source language")
    if glossary_missed:
        session.warnings.append(f"{len(glossary_missed)} paragraph(s) do not use the glossary's terms")
    result = {
        "to": opts.to,
        "translation": text,
        "coverage": round((len(todo) - len(misaligned)) / len(todo), 4) if todo else 1.0,
        "paragraphs": len(todo),
        "misaligned": misaligned,
    }
    if opts.glossary:
        result["glossary_missed"] = glossary_missed
    return session.result(result, text, "blocks")


def parse_units(text: str, expected: list[int], complete: bool = True) -> dict[int, str] | None:
    """The translations by id if the reply has exactly the `expected` ids, each once and non-empty;
    else None. `complete=False` (the reply hit max_new_tokens) distrusts an unclosed last unit.
    A single expected paragraph may come back without its tags or with another id."""
    matches = list(_UNIT.finditer(text))
    if not matches:
        bare = _CLOSE.sub("", text).strip()
        return {expected[0]: bare} if len(expected) == 1 and bare and complete else None
    units: dict[int, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end]
        closed = _CLOSE.search(body) is not None
        if i + 1 == len(matches) and not complete and not closed:
            return None
        n = int(match.group(1))
        content = _CLOSE.sub("", body).strip()
        if n in units or not content:
            return None
        units[n] = content
    if len(expected) == len(units) == 1:  # one paragraph asked, one given: a wrong id cannot misplace it
        return {expected[0]: next(iter(units.values()))}
    return units if sorted(units) == sorted(expected) else None


@dataclass
class Piece:
    """Part of a paragraph too large for one block, and what follows it in the paragraph."""

    unit: Paragraph
    separator: str  # "\n" after a run of lines, " " between sentences of one long line, "" last


_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


class _Translator:
    """Blocks of paragraphs sized to the window and max_new_tokens, and their calls."""

    def __init__(self, session: Session, opts: TranslateOptions):
        self.session = session
        self.engine = session.engine
        self.opts = opts
        self.template = load_prompt("translate", opts.prompt_dirs)
        source = opts.source_language
        self.values = {
            "to": language_name(opts.to),
            "from_language": f"from {language_name(source)} " if source else "",
        }
        overhead = prompt_tokens(self.engine, "translate", opts.prompt_dirs, **self.values)
        room = self.engine.context_window - overhead
        # The block and its translation must fit the window together; the translation, max_new_tokens.
        self.budget = max(min(opts.params.max_new_tokens // EXPANSION, room // (EXPANSION + 1)), 1)

    def units(self, paragraphs: list[Paragraph], first_id: int) -> tuple[list[Paragraph], dict[int, list[Piece]]]:
        """What is sent: each paragraph, or for one over the block budget (a text with no blank
        lines is one paragraph), its pieces, numbered from `first_id` on; and the pieces of each
        cut paragraph, to be joined back once translated."""
        units: list[Paragraph] = []
        pieces: dict[int, list[Piece]] = {}
        for paragraph in paragraphs:
            if self.engine.count_tokens(_unit(paragraph)) <= self.budget:
                units.append(paragraph)
                continue
            pieces[paragraph.id] = []
            for text, separator in self._cut(paragraph.text):
                pieces[paragraph.id].append(Piece(Paragraph(first_id, text, True), separator))
                first_id += 1
            units.extend(piece.unit for piece in pieces[paragraph.id])
        return units, pieces

    def _cut(self, text: str) -> list[tuple[str, str]]:
        """`text` as (piece, separator after it): runs of whole lines of at most the block budget,
        and a line longer than that in runs of whole sentences."""
        spans: list[tuple[str, str]] = []
        for line in text.split("\n"):
            if self.engine.count_tokens(line) <= self.budget:
                spans.append((line, "\n"))
            else:
                spans.extend((sentence, " ") for sentence in _SENTENCE_END.split(line) if sentence)
                spans[-1] = (spans[-1][0], "\n")
        runs: list[tuple[str, str]] = []
        used = 0
        for span, separator in spans:
            tokens = self.engine.count_tokens(span) + 1
            if runs and used + tokens <= self.budget:
                runs[-1] = (runs[-1][0] + runs[-1][1] + span, separator)
                used += tokens
            else:
                runs.append((span, separator))
                used = tokens
        runs[-1] = (runs[-1][0], "")
        return runs

    def blocks(self, paragraphs: list[Paragraph]) -> list[list[Paragraph]]:
        blocks: list[list[Paragraph]] = []
        used = 0
        for paragraph in paragraphs:
            tokens = self.engine.count_tokens(_unit(paragraph))
            if blocks and used + tokens <= self.budget:
                blocks[-1].append(paragraph)
                used += tokens
            else:
                blocks.append([paragraph])
                used = tokens
        return blocks

    def call(self, block: list[Paragraph]) -> Call | None:
        """The call that translates `block`; None when it cannot fit the window."""
        units = "\n\n".join(_unit(p) for p in block)
        glossary = prompt_lines(terms_in(self.opts.glossary, units))
        user = self.template.render(paragraphs=units, glossary=glossary, **self.values)
        messages = chat(user, self.opts.prompt_dirs)
        room = self.engine.context_window - self.engine.count_chat_tokens(messages)
        if room < 1:
            return None  # one paragraph larger than the window: it stays in the source language
        wanted = max(self.opts.params.max_new_tokens, EXPANSION * self.engine.count_tokens(units))
        ids = [p.id for p in block]
        what = f"the translation of paragraph {ids[0]}" + (f" to {ids[-1]}" if len(ids) > 1 else "")
        return Call(messages, what, min(wanted, room))

    def parse(self, block: list[Paragraph], generation: Generation) -> dict[int, str] | None:
        """The translations of `block` in the answer to its call."""
        return parse_units(generation.text, [p.id for p in block], complete=generation.finish_reason != "length")

    def block(self, block: list[Paragraph]) -> dict[int, str] | None:
        """Translate `block` now, alone."""
        call = self.call(block)
        if call is None:
            return None
        return self.parse(block, self.session.generate(call.messages, call.what, call.max_new_tokens))


def language_name(language: str) -> str:
    """The language as the prompt names it: codes spelled out ("fr" -> "French"), names as given."""
    return LANGUAGES.get(language.strip().lower(), language.strip())


def _unit(paragraph: Paragraph) -> str:
    return f'<p id="{paragraph.id}">{paragraph.text}</p>'
