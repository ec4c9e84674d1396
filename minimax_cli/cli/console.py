"""All terminal I/O: results to stdout, progress and logs to stderr.

On a TTY, progress is a rich live display; otherwise it is quiet: one plain line per finished
step that took more than a second, and log lines, so cron mail stays short and greppable.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichBar, SpinnerColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)

from minimax_cli.progress import ProgressTask

PLAIN_MIN_SECONDS = 1.0

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def out(text: str = "") -> None:
    """A result line on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    message = one_line(message)
    stderr.print(f"[yellow]warning:[/] {escape(message)}" if stderr.is_terminal else f"warning: {message}",
                 markup=stderr.is_terminal)


def one_line(message: str) -> str:
    """`message` with control characters escaped (a file name may hold a newline), so that an
    error stays one line that scripts can grep."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in message)


def error(message: str) -> None:
    """The one-line error users see before a non-zero exit."""
    message = one_line(message)
    stderr.print(f"[red]error:[/] {escape(message)}" if stderr.is_terminal else f"error: {message}",
                 markup=stderr.is_terminal)


class _RichTask:
    def __init__(self, bar: "TerminalProgress", task_id):
        self._bar, self._id = bar, task_id

    def advance(self, amount: float = 1) -> None:
        self._bar.rich.advance(self._id, amount)

    def describe(self, description: str) -> None:
        self._bar.rich.update(self._id, description=description)

    def close(self) -> None:
        self._bar.rich.remove_task(self._id)
        self._bar.closed()


class TerminalProgress:
    """`Progress` drawn with rich on stderr; the live display runs while any task is open."""

    def __init__(self) -> None:
        self.rich = RichBar(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=stderr, transient=True)
        self._open = 0

    def task(self, description: str, total: float | None = None, unit: str = "") -> ProgressTask:
        if self._open == 0:
            self.rich.start()
        self._open += 1
        return _RichTask(self, self.rich.add_task(description, total=total, unit=unit))

    def closed(self) -> None:
        self._open -= 1
        if self._open == 0:
            self.rich.stop()

    def log(self, message: str) -> None:
        stderr.print(message, markup=False)


class _PlainTask:
    def __init__(self, description: str, unit: str):
        self.description, self.unit = description, unit
        self.done = 0.0
        self.started = time.monotonic()

    def advance(self, amount: float = 1) -> None:
        self.done += amount

    def describe(self, description: str) -> None:
        pass  # the line at close names the step, not its last status

    def close(self) -> None:
        seconds = time.monotonic() - self.started
        if seconds >= PLAIN_MIN_SECONDS:
            amount = f"{self.done:g} {self.unit} " if self.unit else ""
            stderr.print(f"{self.description}: {amount}in {seconds:.1f}s", markup=False)


class PlainProgress:
    """`Progress` for pipes and cron: a line per finished step, no bars."""

    def task(self, description: str, total: float | None = None, unit: str = "") -> ProgressTask:
        return _PlainTask(description, unit)

    def log(self, message: str) -> None:
        stderr.print(message, markup=False)


def make_progress(quiet: bool = False):
    from minimax_cli.progress import NULL_PROGRESS

    if quiet:
        return NULL_PROGRESS
    return TerminalProgress() if stderr.is_terminal else PlainProgress()
