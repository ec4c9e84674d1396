"""One task run's calls to the engine, with their accounting: tokens, time and warnings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from time import perf_counter

from minimax_cli.engine.base import Engine, Generation, GenerationParams, Message
from minimax_cli.progress import Progress
from minimax_cli.tasks.prompts import task_prompt_sha256
from minimax_cli.tasks.result import TaskResult, Usage


class Session:
    """Calls made for one task run; `result` wraps the task's JSON with their accounting."""

    def __init__(
        self, task: str, engine: Engine, params: GenerationParams, progress: Progress, prompt_dirs: Sequence[Path]
    ):
        self.task = task
        self.engine = engine
        self.params = params
        self.progress = progress
        self.prompt_dirs = tuple(prompt_dirs)
        self.usage = Usage()
        self.warnings: list[str] = []
        self.started = perf_counter()

    def generate(self, messages: Sequence[Message], what: str, max_new_tokens: int | None = None) -> Generation:
        """One call; `what` names it in warnings ("part 3 summary")."""
        params = self.params if max_new_tokens is None else replace(self.params, max_new_tokens=max_new_tokens)
        generation = self.engine.generate(messages, params, self.progress)
        self._account(generation, what, params)
        return generation

    def result(
        self,
        result: dict,
        text: str,
        strategy: str,
        usage: Usage | None = None,
        warnings: list[str] | None = None,
        share: float = 1.0,
    ) -> TaskResult:
        """The run's result; a run that answers several questions gives each its own `usage`,
        `warnings` and `share` of the elapsed time."""
        return TaskResult(
            task=self.task,
            result=result,
            text=text,
            strategy=strategy,
            usage=self.usage if usage is None else usage,
            seconds=(perf_counter() - self.started) * share,
            warnings=self.warnings + (warnings or []),
            prompt_sha256=task_prompt_sha256(self.task, self.prompt_dirs),
        )

    def _account(self, generation: Generation, what: str, params: GenerationParams) -> None:
        self.usage.add(generation)
        self.warnings.extend(cut_off(generation, what, params))


def cut_off(generation: Generation, what: str, params: GenerationParams) -> list[str]:
    """A warning when the answer hit max_new_tokens (its JSON or text may be incomplete)."""
    if generation.finish_reason != "length":
        return []
    return [f"{what} was cut off at max_new_tokens={params.max_new_tokens}"]
