"""Prompt templates: one file per task step in prompts/, overridable with `--prompts DIR`.

Templates use `string.Template` syntax (`$document`, `${to}`), so braces in code and JSON examples
need no escaping; a literal dollar sign is written `$$`. Each template's sha256 goes into records
and batch fingerprints, so a changed prompt never resumes an old run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from string import Template

from minimax_cli.engine.base import Message
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.resources import data_dir

# The templates each task renders, in the order it uses them; `system` frames every call.
TASK_PROMPTS: dict[str, tuple[str, ...]] = {
    "summarize": ("system", "summarize_single", "summarize_map", "summarize_reduce", "summarize_update"),
    "ask": ("system", "ask"),
    "review": ("system", "review"),
    "translate": ("system", "translate"),
}


class PromptTemplate(Template):
    """A loaded template: `render(**values)` fills it; `sha256` fingerprints its text."""

    def __init__(self, name: str, text: str, path: Path):
        super().__init__(text)
        self.name = name
        self.path = path
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def placeholders(self) -> list[str]:
        """The names the template fills, in order of first use."""
        names: list[str] = []
        for match in self.pattern.finditer(self.template):
            name = match.group("named") or match.group("braced")
            if name and name not in names:
                names.append(name)
        return names

    def render(self, **values: object) -> str:
        try:
            return self.substitute(**values).strip()
        except (KeyError, ValueError) as exc:
            raise MinimaxError(
                ErrorCode.BAD_REQUEST,
                f"prompt template {self.name}.txt uses an unknown or malformed placeholder: {exc}",
                str(self.path),
            ) from exc


def load_prompt(name: str, prompt_dirs: Sequence[Path] = ()) -> PromptTemplate:
    """The template `name` (`prompts/<name>.txt`), from the user's folders first, then the shipped one."""
    searched = [Path(d) for d in prompt_dirs] + [data_dir("prompts")]
    for folder in searched:
        path = folder / f"{name}.txt"
        if path.is_file():
            return PromptTemplate(name, path.read_text(encoding="utf-8"), path)
    where = ", ".join(str(d) for d in searched)
    raise MinimaxError(ErrorCode.NOT_FOUND, f"prompt template {name}.txt not found in {where}")


def chat(user: str, prompt_dirs: Sequence[Path] = ()) -> list[Message]:
    """A conversation of the shared system prompt and one user turn."""
    return [Message("system", load_prompt("system", prompt_dirs).render()), Message("user", user)]


def prompts_sha256(names: Iterable[str], prompt_dirs: Sequence[Path] = ()) -> str:
    """One fingerprint over several templates (name and text of each, in order)."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}\0{load_prompt(name, prompt_dirs).sha256}\0".encode())
    return digest.hexdigest()


def task_prompt_sha256(task: str, prompt_dirs: Sequence[Path] = ()) -> str:
    """The fingerprint of every template `task` may render (what records and batch resume key on)."""
    return prompts_sha256(TASK_PROMPTS[task], prompt_dirs)
