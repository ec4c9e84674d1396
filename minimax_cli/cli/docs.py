"""docs/cli.md, generated from the commands' --help (run `python -m minimax_cli.cli.docs`).

The command tree is walked (root, then each command and group in `--help` order, groups
recursively), so a new command is documented without touching this file.
tests/cli/test_docs.py fails when the checked-in file differs from what this produces, so the
reference never drifts from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from minimax_cli.cli.app import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def command_paths(command, path: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command's argv path under `command`, itself first, depth first in listing order."""
    paths = [list(path)]
    if hasattr(command, "list_commands"):  # a group (Typer's vendored Click has no Group base class)
        ctx = typer.Context(command, info_name=path[-1] if path else "minimax")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                paths += command_paths(sub, (*path, name))
    return paths


def render() -> str:
    runner = CliRunner()
    parts = ["# minimax command reference\n",
             "Generated from `--help` by `python -m minimax_cli.cli.docs`; do not edit by hand.\n"]
    for argv in command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, argv + ["--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"},
                               prog_name="minimax")
        title = " ".join(["minimax", *argv])
        parts.append(f"## `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
