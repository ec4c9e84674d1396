"""Glossaries for translate: terms that must come out the same way every time.

A glossary file has one term a line: `source = target` (also `source<TAB>target` or
`source -> target`), or the term alone to keep it untranslated (names, product terms). Blank lines
and lines starting with `#` are skipped. A `.json` file holds one object `{"source": "target"}`.
Each block's prompt lists only the terms its paragraphs contain; afterwards a paragraph whose
translation lacks a required target is reported, not silently accepted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from minimax_cli.errors import ErrorCode, MinimaxError

_SEPARATORS = re.compile(r"\t|\s+(?:=|->|→)\s+")


@dataclass(frozen=True)
class Term:
    source: str
    target: str  # the same as `source` for a term kept as it is

    def occurs_in(self, text: str) -> bool:
        return _occurs(self.source, text)


def load_glossary(path: Path) -> tuple[Term, ...]:
    """The terms of a glossary file, longest first (so "New York Times" wins over "New York")."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MinimaxError(ErrorCode.NOT_FOUND, "no such glossary file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read the glossary as UTF-8 text: {exc}", str(path)) from None
    if Path(path).suffix.lower() == ".json":
        pairs = _json_pairs(text, str(path))
    else:
        pairs = [_line_pair(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    terms = {source: Term(source, target or source) for source, target in pairs if source}
    return tuple(sorted(terms.values(), key=lambda t: -len(t.source)))


def terms_in(terms: tuple[Term, ...], text: str) -> list[Term]:
    return [t for t in terms if t.occurs_in(text)]


def prompt_lines(terms: list[Term]) -> str:
    """The glossary part of a prompt, or "" when no term occurs."""
    if not terms:
        return ""
    lines = ["Translate these terms exactly as given:"]
    for t in terms:
        lines.append(f"- {t.source} -> {t.target}" + (" (keep as it is)" if t.target == t.source else ""))
    return "\n".join(lines) + "\n\n"


def missed(terms: tuple[Term, ...], source: str, translation: str) -> list[str]:
    """The terms of `source` whose required target is not in `translation`."""
    return [t.source for t in terms_in(terms, source) if not _occurs(t.target, translation)]


def fingerprint(terms: tuple[Term, ...]) -> str:
    data = "\n".join(f"{t.source}\t{t.target}" for t in sorted(terms, key=lambda t: t.source))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _line_pair(line: str) -> tuple[str, str]:
    parts = _SEPARATORS.split(line.strip(), maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


def _json_pairs(text: str, path: str) -> list[tuple[str, str]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"the glossary is not valid JSON: {exc}", path) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise MinimaxError(ErrorCode.BAD_REQUEST, 'a JSON glossary is one object {"term": "translation"}', path)
    return [(k.strip(), v.strip()) for k, v in value.items()]


def _occurs(term: str, text: str) -> bool:
    """Case-insensitive, on word boundaries where the term starts or ends with a word character."""
    left = r"(?<!\w)" if term[:1].isalnum() else ""
    right = r"(?!\w)" if term[-1:].isalnum() else ""
    return re.search(left + re.escape(term) + right, text, re.IGNORECASE) is not None
