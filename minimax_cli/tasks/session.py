"""One task run's calls to the engine, with their accounting: tokens, time and warnings."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from time import perf_counter

from minimax_cli.engine.base import Engine, Generation, GenerationParams, Message
from minimax_cli.progress import Progress
from minimax_cli.tasks.prompts import task_prompt_sha256
from minimax_cli.tasks.result import TaskResult, Usage


@dataclass(frozen=True)
class Call:
    """One engine call of a task: the conversation, what it is (for warnings), its token budget."""

    messages: Sequence[Message]
    what: str
    max_new_tokens: int | None = None


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
        params = self._params(max_new_tokens)
        generation = self.engine.generate(messages, params, self.progress)
        self._account(generation, what, params)
        return generation

    def stream(self, calls: Iterable[Call], window: int | None = None) -> Iterator[Generation]:
        """The answers to `calls`, in order, with up to `window` of them in flight at once
        (default: twice what the engine runs at once, so a row that ends finds the next waiting)."""
        window = window or 2 * self.engine.max_in_flight
        pending: deque[tuple[Future, str, GenerationParams]] = deque()
        calls = iter(calls)
        while True:
            while len(pending) < window and (call := next(calls, None)) is not None:
                params = self._params(call.max_new_tokens)
                pending.append((self.engine.submit(call.messages, params, self.progress), call.what, params))
            if not pending:
                return
            future, what, params = pending.popleft()
            generation = future.result()
            self._account(generation, what, params)
            yield generation

    def generate_all(self, calls: Sequence[Call]) -> list[Generation]:
        """The answers to all `calls`, all in flight at once."""
        return list(self.stream(calls, window=max(len(calls), 1)))

    def _params(self, max_new_tokens: int | None) -> GenerationParams:
        return self.params if max_new_tokens is None else replace(self.params, max_new_tokens=max_new_tokens)

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
