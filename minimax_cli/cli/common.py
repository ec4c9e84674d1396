"""What every command module shares: the options several commands take (as `Annotated` aliases),
the root options (--version, whose report is cli/version.py's, and --debug), the one path from an
exception to an `error:` line and an exit code, and the edge helpers that make argv text and
option values safe before use.

Command modules import this module, never the root (app.py), so the root can import them all.
"""

from __future__ import annotations

import re
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from minimax_cli.cli import console, version
from minimax_cli.cli.exit import ExitStatus, status_for
from minimax_cli.errors import ErrorCode, MinimaxError

# ---- options shared by several commands ---------------------------------------------------------

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="A preset name (see `minimax models`) or a "
                                       "checkpoint folder / .gguf file.", envvar="MINIMAX_MODEL")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Append one JSON record per job to "
                                                   "this JSONL file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print each record as one JSON line on stdout.")]
JsonObjectOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
MaxNewOpt = Annotated[Optional[int], typer.Option("--max-new-tokens", help="Cap on generated tokens per model "
                                                  "call (default: the preset's).")]
TempOpt = Annotated[Optional[float], typer.Option("--temperature", help="0 = greedy (default: the preset's).")]
TopPOpt = Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling mass (default: the "
                                                  "preset's).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Sampling seed.")]
QuantOpt = Annotated[Optional[str], typer.Option("--quant", help="Weight quantization for hybrid checkpoints: "
                                                 "none | int8 (default: the preset's).")]
PromptsOpt = Annotated[Optional[Path], typer.Option("--prompts", help="A folder of prompt files that override "
                                                    "the shipped ones.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log lines on stderr.")]

# TaskSpec's messages name its fields; the user typed flags. A field is renamed where a message
# names it: as its first word ("max_new_tokens must be ...") or in parentheses ("(to)").
FIELD_FLAGS = {"task": "--task", "length": "--length", "strategy": "--strategy", "to": "--to",
               "source_language": "--from", "max_new_tokens": "--max-new-tokens",
               "temperature": "--temperature", "top_p": "--top-p", "seed": "--seed"}

DEBUG = "minimax.debug"  # ctx.meta key: set by the root callback, read on the way out

# An optional module that is missing names the extra that installs it.
EXTRAS = {"optimum": ("int8 weights (--quant int8) need optimum-quanto", "int8"),
          "ray": ("--ray needs Ray", "ray"),
          "fla": ("the GPU kernels need fla-core", "gpu"),
          "triton": ("the GPU kernels need triton", "gpu")}


# ---- the root options ---------------------------------------------------------------------------

def _print_versions(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:  # resilient: the shell is completing a command line
        console.out(version.report())
        raise typer.Exit(ExitStatus.OK)


def root_options(
    ctx: typer.Context,
    show_version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_versions,
        help="Print `minimax VERSION`, then those of Python, torch, CUDA (and the GPUs it sees), "
        "transformers and the optional libraries, one a line, and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="On an error, print the traceback too; show "
                                        "warnings from libraries.")] = False,
) -> None:
    ctx.meta[DEBUG] = debug
    if debug:
        warnings.simplefilter("default")
        warnings.showwarning = _warning_to_stderr  # even where a harness has redirected warnings
    else:
        # Library warnings (deprecations, tokenizer notes) are noise to a user and cron mail.
        warnings.simplefilter("ignore")


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


# ---- the one way out -----------------------------------------------------------------------------

class GuardedGroup(TyperGroup):
    """The root group: whatever a command returns or raises leaves through `exit_status`, so no
    command prints its own errors or picks its own exit code. Warnings filters set for one run are
    undone after it (tests run many in one process)."""

    def invoke(self, ctx: typer.Context):
        with warnings.catch_warnings():
            try:
                status = super().invoke(ctx)
            except (Exit, Abort, TyperException):
                raise  # --help, usage errors (exit 2), explicit exits: Typer's own handling
            except (Exception, KeyboardInterrupt) as exc:
                status = exit_status(exc, debug=bool(ctx.meta.get(DEBUG)))
        raise typer.Exit(int(status or ExitStatus.OK))


def exit_status(exc: BaseException, debug: bool = False) -> ExitStatus:
    """Print the one `error:` line for `exc` (and the traceback with --debug); its exit code."""
    # Looked up, not imported: an exception of a module's class means the module is loaded, and
    # the error path must not fail on an import of its own.
    output, records = sys.modules.get("minimax_cli.batch.output"), sys.modules.get("minimax_cli.records")
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if isinstance(exc, MinimaxError):
        console.error(str(exc))
        return status_for(exc.code)
    if output is not None and isinstance(exc, output.OutputLocked):
        console.error(str(exc))
        return ExitStatus.LOCKED
    if records is not None and isinstance(exc, records.ResultsFileError):
        console.error(str(exc))
        return ExitStatus.CANNOT_WRITE
    if isinstance(exc, KeyboardInterrupt):
        console.error("interrupted")
        return ExitStatus.INTERRUPTED
    missing = _missing_extra(exc)
    if missing:
        console.error(missing)
        return ExitStatus.ERROR
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "" if debug else " (run with --debug for the traceback)"
    console.error(f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}{hint}")
    return ExitStatus.ERROR


def _missing_extra(exc: BaseException) -> str | None:
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    known = EXTRAS.get(exc.name.split(".")[0])
    if known is None:
        return None
    what, extra = known
    return f"{what}: pip install 'minimax-cli[{extra}]' ({exc.name} is not installed)"


def usage_error(message: str) -> MinimaxError:
    """A bad command line: the caller raises it, `exit_status` prints it (exit 2)."""
    return MinimaxError(ErrorCode.BAD_REQUEST, message)


def check(spec) -> None:
    """`spec.check()` (TaskSpec: the one place options are validated), its message in flags."""
    try:
        spec.check()
    except MinimaxError as exc:
        raise MinimaxError(exc.code, flag_names(exc.message), exc.path) from None


def flag_names(message: str) -> str:
    head, sep, rest = message.partition(" ")
    if head in FIELD_FLAGS:
        message = FIELD_FLAGS[head] + sep + rest
    return re.sub(r"\((\w+)\)", lambda m: f"({FIELD_FLAGS.get(m[1], m[1])})", message)


# ---- text and files from the command line --------------------------------------------------------

def text(value: str | None) -> str | None:
    """An argv string with lone surrogates (undecodable bytes under a C locale) replaced, so that
    none reaches a tokenizer or a JSON writer. Paths are left alone: they must still open."""
    from minimax_cli.sources.clean import clean_text

    return None if value is None else clean_text(value)


def texts(values) -> list[str]:
    return [text(v) for v in values or []]


def read_text_file(path: Path, what: str = "file") -> str:
    """A UTF-8 text file named on the command line, or the input error that says why not."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MinimaxError(ErrorCode.NOT_FOUND, f"no such {what}", str(path)) from None
    except IsADirectoryError:
        raise MinimaxError(ErrorCode.UNREADABLE, f"the {what} is a folder", str(path)) from None
    except UnicodeDecodeError as exc:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read the {what} as UTF-8 text (byte "
                           f"{exc.start}: {exc.reason})", str(path)) from None
    except OSError as exc:
        raise MinimaxError(ErrorCode.UNREADABLE, f"cannot read the {what}: {exc.strerror or exc}",
                           str(path)) from None


# ---- the engine and the generation options --------------------------------------------------------

def open_engine(model: str, quant: str | None, progress):
    from minimax_cli.engine.factory import open_engine as _open

    return _open(model, quant=quant, progress=progress)


def prompt_dirs(prompts: Path | None) -> tuple[Path, ...]:
    if prompts is None:
        return ()
    if not prompts.is_dir():
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--prompts must be a folder of prompt files", str(prompts))
    return (prompts,)


def generation(max_new_tokens, temperature, top_p, seed, prompts) -> dict:
    """The TaskSpec fields every job command shares."""
    return {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
            "prompt_dirs": prompt_dirs(prompts)}
