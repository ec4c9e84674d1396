"""The `minimax` command line, root only: the Typer app, its root options (defined in common.py)
and the commands of the *_cmd modules, registered in the order `minimax --help` lists them. Entry
point: `main`.

Results go to stdout, progress and errors to stderr; exit codes: cli/exit.py. Every command's
errors leave through common.exit_status (the root group, common.GuardedGroup, routes them there).
"""

from __future__ import annotations

import sys
import warnings

import typer

from minimax_cli.cli import batch_cmd, bench_cmd, common, inspect_cmd, jobs_cmd, models_cmd

app = typer.Typer(
    name="minimax",
    cls=common.GuardedGroup,
    help="Offline long-document jobs (summarize, ask, review, translate) on the MiniMax hybrid "
    "model, or on a small embedded model when there is no GPU. Results are JSONL records.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion; the shell runs `minimax` itself
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: paragraphs rewrap cleanly, docs/cli.md stays plain text
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.callback()(common.root_options)  # --version, --debug

app.command("summarize")(jobs_cmd.summarize)
app.command("ask")(jobs_cmd.ask)
app.command("review")(jobs_cmd.review)
app.command("translate")(jobs_cmd.translate)
app.command("inspect")(inspect_cmd.inspect)
app.command("score")(models_cmd.score)
app.command("plan")(models_cmd.plan)
app.command("batch")(batch_cmd.batch)
app.add_typer(models_cmd.models_app, name="models")
app.add_typer(bench_cmd.bench_app, name="bench")


def main() -> None:
    """Console-script entry point."""
    if "--debug" not in sys.argv[1:]:
        warnings.simplefilter("ignore")  # before the root callback runs: warnings raised while importing
    try:
        app(prog_name="minimax")
    except (Exception, KeyboardInterrupt) as exc:  # outside a command (parsing, --install-completion)
        sys.exit(common.exit_status(exc, debug="--debug" in sys.argv[1:]))
