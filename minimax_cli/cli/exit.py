"""Exit codes, one reason each. Scripts and cron mail key on these; README lists them."""

from __future__ import annotations

from enum import IntEnum

from minimax_cli.errors import ErrorCode


class ExitStatus(IntEnum):
    OK = 0  # everything asked for was done
    ERROR = 1  # fatal: the model could not be loaded or run, or an internal error
    USAGE = 2  # bad command line (Typer/Click's own code; never reused for anything else)
    INPUT = 3  # the input could not be read: not found, encrypted, corrupt, needs OCR, empty ...
    PARTIAL = 4  # a batch finished, but some documents have error records
    LOCKED = 5  # another run holds the lock on this output file; nothing was written
    NO_FIT = 6  # `plan`: the model does not fit the GPUs as asked
    CANNOT_WRITE = 7  # cannot write the results: not a results file, a folder, not writable, disk full
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


_INPUT_CODES = {
    ErrorCode.NOT_FOUND, ErrorCode.UNREADABLE, ErrorCode.EMPTY, ErrorCode.ENCRYPTED,
    ErrorCode.CORRUPT, ErrorCode.NEEDS_OCR, ErrorCode.BINARY, ErrorCode.UNSUPPORTED,
    ErrorCode.TOO_LARGE,
}


def status_for(code: ErrorCode) -> ExitStatus:
    if code == ErrorCode.BAD_REQUEST:
        return ExitStatus.USAGE
    return ExitStatus.INPUT if code in _INPUT_CODES else ExitStatus.ERROR
