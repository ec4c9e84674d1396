"""One task over one document: what the user asked for (`TaskSpec`), how it runs, and the records
it gives; `TASK_REGISTRY` maps each task name to what builds its options and runs it.

The single-document commands and `minimax batch` both come through here, so a document gives the
same records (custom_ids, settings, prompt fingerprint) whichever way it was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path

from minimax_cli.engine.base import Engine, GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.records import success_record
from minimax_cli.sources.document import Document
from minimax_cli.tasks.prompts import task_prompt_sha256
from minimax_cli.tasks.result import TaskResult
from minimax_cli.tasks.glossary import Term
from minimax_cli.tasks.summarize import LENGTH_WORDS, STRATEGIES

# A summary of `length` needs about this many tokens a word when no cap was given, with slack: a
# 300-word target came back as 411 words (about 550 tokens) from the default model.
TOKENS_PER_WORD = 2.0


@dataclass(frozen=True)
class TaskSpec:
    """A task and its options as the user gave them (flags or a request line). Generation values
    left None take the model preset's defaults."""

    task: str
    questions: tuple[str, ...] = ()  # ask
    length: str = "medium"  # summarize
    strategy: str = "auto"  # summarize
    chapters: bool = False  # summarize: also a summary per chapter
    to: str = ""  # translate
    source_language: str | None = None  # translate
    glossary: tuple[Term, ...] = ()  # translate: terms to translate exactly as given
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int = 0
    prompt_dirs: tuple[Path, ...] = ()

    def check(self) -> None:
        """BAD_REQUEST, saying what is wrong, for a spec no document could run."""
        def bad(message: str) -> MinimaxError:
            return MinimaxError(ErrorCode.BAD_REQUEST, message)

        if self.task not in TASK_REGISTRY:
            raise bad(f"unknown task {self.task!r} (one of {', '.join(TASK_REGISTRY)})")
        if self.task == "ask" and not self.questions:
            raise bad("ask needs at least one question")
        if not all(q.strip() for q in self.questions):
            raise bad("questions must be non-empty strings")
        if self.task == "translate" and not self.to.strip():
            raise bad("translate needs a target language (to)")
        if self.length not in LENGTH_WORDS:
            raise bad(f"length must be one of {', '.join(LENGTH_WORDS)}")
        if self.strategy not in STRATEGIES:
            raise bad(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise bad("max_new_tokens must be at least 1")
        if self.temperature is not None and self.temperature < 0:
            raise bad("temperature must be 0 or more")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise bad("top_p must be in (0, 1]")

    def params(self, defaults: GenerationParams) -> GenerationParams:
        """The spec's values over the preset's `defaults`."""
        params = GenerationParams(
            max_new_tokens=defaults.max_new_tokens if self.max_new_tokens is None else self.max_new_tokens,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            seed=self.seed,
        )
        if self.task == "summarize" and self.max_new_tokens is None:  # room for the asked length
            floor = int(LENGTH_WORDS[self.length] * TOKENS_PER_WORD)
            params = replace(params, max_new_tokens=max(params.max_new_tokens, floor))
        return params

    def options(self, defaults: GenerationParams):
        """The task module's options object (SummarizeOptions, AskOptions, ...)."""
        return TASK_REGISTRY[self.task].options(self, self.params(defaults))

    def settings(self, defaults: GenerationParams) -> dict:
        """What a record says the task ran with (the options' own `settings()`)."""
        return self.options(defaults).settings()

    def prompt_sha256(self) -> str:
        return task_prompt_sha256(self.task, self.prompt_dirs)

    def custom_ids(self, base: str) -> list[str]:
        """The custom_id of each record: `base`, or `base#q1`, `base#q2`... for several questions."""
        if self.task == "ask" and len(self.questions) > 1:
            return [f"{base}#q{n}" for n in range(1, len(self.questions) + 1)]
        return [base]

    def run(self, doc: Document, engine: Engine, progress: Progress = NULL_PROGRESS) -> list[TaskResult]:
        """The task over `doc`: one result, or one per question for ask."""
        return TASK_REGISTRY[self.task].run(self, doc, engine, self.options(engine.default_params), progress)

    def records(self, custom_ids: list[str], doc: Document, engine: Engine,
                progress: Progress = NULL_PROGRESS) -> list[tuple[dict, TaskResult]]:
        """Run the task and wrap each result as a success record under its custom_id."""
        results = self.run(doc, engine, progress)
        settings = self.settings(engine.default_params)
        prompt_sha256 = self.prompt_sha256()
        return [(success_record(custom_id, result, doc, engine.info.to_dict(), settings, prompt_sha256), result)
                for custom_id, result in zip(custom_ids, results, strict=True)]


# ---- the task registry ---------------------------------------------------------------------------
# Each task lives in minimax_cli/tasks/<name>.py as a function <name> and an options class whose
# settings() a record carries; the module is imported only when the task runs.


@dataclass(frozen=True)
class TaskEntry:
    """How one task builds its options from a spec and runs."""

    name: str
    options_class: str
    spec_fields: tuple[str, ...] = ()  # the spec's values the options class takes, by the same names
    per_question: bool = False  # ask: the questions go in, one result comes back per question

    def options(self, spec: TaskSpec, params: GenerationParams):
        options_class = getattr(self._module(), self.options_class)
        return options_class(params=params, prompt_dirs=spec.prompt_dirs,
                             **{name: getattr(spec, name) for name in self.spec_fields})

    def run(self, spec: TaskSpec, doc: Document, engine: Engine, opts, progress: Progress) -> list[TaskResult]:
        task = getattr(self._module(), self.name)
        if self.per_question:
            return task(doc, engine, list(spec.questions), opts, progress)
        return [task(doc, engine, opts, progress)]

    def _module(self):
        return import_module(f"minimax_cli.tasks.{self.name}")


TASK_REGISTRY = {entry.name: entry for entry in (
    TaskEntry("summarize", "SummarizeOptions", ("length", "strategy", "chapters")),
    TaskEntry("ask", "AskOptions", per_question=True),
    TaskEntry("review", "ReviewOptions"),
    TaskEntry("translate", "TranslateOptions", ("to", "source_language", "glossary")),
)}
