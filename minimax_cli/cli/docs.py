"""docs/cli.md, generated from the commands' --help (run `python -m minimax_cli.cli.docs`).

tests/cli/test_docs.py fails when the checked-in file differs from what this produces, so the
reference never drifts from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from minimax_cli.cli.app import app

COMMANDS = [[], ["summarize"], ["ask"], ["review"], ["translate"], ["inspect"], ["models"],
            ["models", "synth"], ["score"], ["plan"], ["batch"], ["bench"], ["bench", "prefill"],
            ["bench", "decode"], ["bench", "kernels"], ["bench", "ingest"]]
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def render() -> str:
    runner = CliRunner()
    parts = ["# minimax command reference\n",
             "Generated from `--help` by `python -m minimax_cli.cli.docs`; do not edit by hand.\n"]
    for argv in COMMANDS:
        result = runner.invoke(app, argv + ["--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"},
                               prog_name="minimax")
        title = " ".join(["minimax", *argv])
        parts.append(f"## `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
