"""The results file of a batch run, held under an exclusive lock from start to end.

The lock is flock(2) on the results file itself, taken without waiting: a second run on the same
file learns at once that it is busy and leaves it untouched. The kernel drops the lock when the
holder's process ends in any way, kill -9 included, so there is never a stale lock to clean up.
(flock is reliable on local file systems; on NFS it depends on the client.)

Each record is one os.write of the whole line to a file opened O_APPEND, then fsync: a killed run
leaves at most one torn last line, which the next run cuts off under the lock before appending.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from minimax_cli.records import ResultsFileError, check_results_file, encode, read_records, repair_tail


class OutputLocked(Exception):
    """Another process holds the lock on this results file."""

    def __init__(self, path: Path):
        super().__init__(f"{path}: another minimax batch run is writing this file; nothing was done")
        self.path = path


class BatchOutput:
    """`with BatchOutput(path) as out:` locks, repairs a torn tail, then `out.append(record)`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self.repaired_bytes = 0  # what the torn tail of a killed run measured

    def __enter__(self) -> BatchOutput:
        check_results_file(self.path)  # before the file is created, locked or repaired
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:  # not writable, a read-only mount, ...
            raise ResultsFileError(self.path, f"cannot open it for writing: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLocked(self.path) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.repaired_bytes = repair_tail(self.path)
        return self

    def records(self) -> list[dict]:
        """Every whole record in the file, oldest first."""
        return read_records(self.path)

    def append(self, record: dict) -> None:
        """Write one record as one line and make it durable before returning."""
        if self._fd is None:
            raise RuntimeError("BatchOutput is not open; use it as a context manager")
        line = memoryview(encode(record))
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while line:  # a regular file takes the whole line at once; the loop is for the odd short write
                line = line[os.write(self._fd, line):]
            os.fsync(self._fd)
        except OSError as exc:  # disk full, quota, I/O error: back to the last whole line
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                pass
            raise ResultsFileError(self.path, f"cannot write the results: {exc.strerror or exc}; the file "
                                   "is as it was before this record") from None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)  # closing the only descriptor releases the lock
            except OSError as error:  # every line was fsynced already; say so rather than crash
                raise ResultsFileError(self.path, f"closing it failed: {error.strerror or error}") from None
