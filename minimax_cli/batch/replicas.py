"""`--replicas N`: N copies of the model, each in its own process on its own GPUs.

The visible GPUs are split into N equal sets (CUDA_VISIBLE_DEVICES per process); each replica
loads the model over its set and runs one job at a time, handed out as replicas come free. The
parent alone writes the results file, so locking, resume and kill -9 safety are those of a single
process. A replica talks to the parent over a socket pair (pickled messages); it exits when the
parent closes its end, or dies with it.

Run as `python -m minimax_cli.batch.replicas FD`, which the pool does itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from time import perf_counter

from minimax_cli.batch.jobs import Job
from minimax_cli.batch.run import Finished, engine_failure, execute, failure_records
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

STOP_SECONDS = 10  # how long a replica gets to exit after its last job before it is killed


def replica_devices(replicas: int, model: str, quant: str | None) -> list[str]:
    """CUDA_VISIBLE_DEVICES for each of `replicas` copies of `model`: the visible GPUs in equal
    sets. Refuses (BAD_REQUEST, saying why) without GPUs, or when one copy needs more GPUs than a
    set holds."""
    import torch

    from minimax_cli.engine.factory import resolve_model

    if replicas < 1:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--replicas must be at least 1")
    if not torch.cuda.is_available():
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--replicas needs GPUs: on the CPU one process already "
                           "uses every core; run without --replicas")
    visible = _visible_gpus(torch.cuda.device_count())
    if replicas > len(visible):
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"--replicas {replicas} needs at least {replicas} GPUs; "
                           f"{len(visible)} are visible")
    per = len(visible) // replicas
    preset = resolve_model(model)
    if preset.engine == "hybrid":
        _check_hybrid_fits(preset, per, len(visible), quant)
    return [",".join(visible[i * per:(i + 1) * per]) for i in range(replicas)]


def _visible_gpus(count: int) -> list[str]:
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip()][:count]
    return [str(i) for i in range(count)]


def _check_hybrid_fits(preset, per: int, visible: int, quant: str | None) -> None:
    """Refuse when one copy of a hybrid model needs more than `per` GPUs (by the preset, or by the
    device-map plan `minimax plan` prints)."""
    from minimax_cli.engine.factory import check_replica_fits

    if preset.gpus > per:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"{preset.name} is set to use {preset.gpus} GPUs, so "
                           f"{visible} visible GPUs hold {visible // preset.gpus} replica(s), not more")
    try:
        check_replica_fits(preset, per, quant)
    except MinimaxError as exc:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"one replica would have {per} GPU(s): {exc.message}") from None


@dataclass
class _Replica:
    number: int
    devices: str | None
    process: subprocess.Popen
    conn: Connection
    job: Job | None = None  # the job it runs now
    started: float = 0.0


class ReplicaPool:
    """Runs jobs on model replicas in child processes. `devices` holds each replica's
    CUDA_VISIBLE_DEVICES (None: inherit this process's, e.g. for CPU replicas in tests)."""

    def __init__(self, model: str, quant: str | None, devices: list[str | None],
                 progress: Progress = NULL_PROGRESS):
        self.model, self.quant, self.devices = model, quant, devices
        self.progress = progress
        self.replicas: list[_Replica] = []

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        """Hand each replica a job when it is ready or done with its last; the model loads on
        first use, so a batch with nothing to run starts no replica."""
        if not jobs:
            return
        self._start()
        todo = deque(jobs)
        live = {r.conn: r for r in self.replicas}
        while live and (todo or any(r.job is not None for r in live.values())):
            for conn in wait(list(live)):
                replica = live[conn]
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    del live[conn]
                    if replica.job is not None:
                        yield self._died(replica)
                    continue
                if message[0] == "fatal":
                    _, code, text, path = message
                    raise MinimaxError(ErrorCode(code), f"replica {replica.number}: {text}", path)
                if message[0] == "ready":
                    self.progress.log(f"replica {replica.number} ready ({replica_label(replica.devices)})")
                else:  # ("done", records)
                    yield Finished(replica.job, message[1], perf_counter() - replica.started)
                    replica.job = None
                if todo:
                    replica.job, replica.started = todo.popleft(), perf_counter()
                    conn.send(replica.job)
        if todo:
            raise MinimaxError(ErrorCode.MODEL_ERROR, f"every replica process died; {len(todo)} job(s) not run")

    def _start(self) -> None:
        self.progress.log(f"starting {len(self.devices)} replicas of {self.model}")
        for number, devices in enumerate(self.devices, 1):
            ours, theirs = socket.socketpair()
            env = dict(os.environ)
            if devices is not None:
                env["CUDA_VISIBLE_DEVICES"] = devices
            process = subprocess.Popen(
                [sys.executable, "-m", "minimax_cli.batch.replicas", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
            theirs.close()
            conn = Connection(ours.detach())
            conn.send((self.model, self.quant))
            self.replicas.append(_Replica(number, devices, process, conn))

    def _died(self, replica: _Replica) -> Finished:
        code = replica.process.wait()
        problem = MinimaxError(ErrorCode.MODEL_ERROR, f"the replica process died (exit code {code}) "
                               "while running this job", replica.job.input)
        return Finished(replica.job, failure_records(replica.job, problem), perf_counter() - replica.started)

    def close(self) -> None:
        for replica in self.replicas:
            replica.conn.close()  # the replica sees end-of-file and exits
        for replica in self.replicas:
            try:
                replica.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()
        self.replicas = []


def replica_label(devices: str | None) -> str:
    return f"GPUs {devices}" if devices is not None else "inherited devices"


def serve(fd: int) -> None:
    """A replica: load the model, then run the jobs the parent sends until it hangs up.

    The parent may hang up at any moment, loading included: when the other replicas finish every
    job while this one still loads, the pool closes its end before this one reports ready. That
    is the normal end of a replica, not a failure: it exits 0 at once (a watcher thread sees the
    hang-up during the load, which would otherwise outlast the pool's STOP_SECONDS and be
    killed), and a send to a parent that is gone ends it quietly."""
    from minimax_cli.engine.factory import open_engine

    conn = Connection(fd)
    try:
        model, quant = conn.recv()
    except (EOFError, OSError):
        return
    loaded = threading.Event()
    threading.Thread(target=_exit_if_parent_leaves, args=(conn, loaded), daemon=True).start()
    try:
        engine = open_engine(model, quant=quant)
    except MinimaxError as exc:
        _send(conn, ("fatal", exc.code.value, exc.message, exc.path))
        return
    except Exception as exc:  # the parent reports it and stops the batch
        failure = engine_failure(exc, model)
        _send(conn, ("fatal", failure.code.value, failure.message, failure.path))
        return
    loaded.set()
    if not _send(conn, ("ready",)):
        return
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if not _send(conn, ("done", execute(job, lambda: engine))):
            return


def _exit_if_parent_leaves(conn: Connection, loaded: threading.Event) -> None:
    """While the model loads: the parent sends nothing before "ready", so the connection turning
    readable means end-of-file, the parent hanging up; exit 0 without finishing the load."""
    try:
        conn.poll(None)
    except OSError:
        pass
    if not loaded.is_set():
        os._exit(0)


def _send(conn: Connection, message: tuple) -> bool:
    """Send `message` to the parent; False when the parent has hung up (EPIPE, reset)."""
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError: the parent closed its end
        return False
    return True


if __name__ == "__main__":
    try:
        serve(int(sys.argv[1]))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        sys.exit(130)
