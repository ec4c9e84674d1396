"""Progress reporting from the core to whoever renders it (the CLI, with rich or plain lines).

Nothing below the CLI prints. Long-running code takes a `Progress` and reports through it; the
default `NULL_PROGRESS` discards everything, so library callers and tests need not care.
"""

from __future__ import annotations

from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: float = 1) -> None: ...
    def describe(self, description: str) -> None:
        """Replace the task's description (a live status: rows running, tokens/s)."""
    def close(self) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None = None, unit: str = "") -> ProgressTask:
        """Start a unit of work; `total` in `unit`s (tokens, pages, files) when known."""
        ...

    def log(self, message: str) -> None:
        """A line for the user's log (stderr)."""
        ...


class _NullTask:
    def advance(self, amount: float = 1) -> None:
        pass

    def describe(self, description: str) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    def task(self, description: str, total: float | None = None, unit: str = "") -> ProgressTask:
        return _NullTask()

    def log(self, message: str) -> None:
        pass


NULL_PROGRESS: Progress = NullProgress()
