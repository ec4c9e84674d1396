"""`--ray ADDRESS`: batch jobs spread over a Ray cluster, one model replica per node or GPU group.

Each replica is a Ray actor that loads the model once (the same presets, plans and engines as a
local run) and runs the jobs it is handed, returning their records; it never writes a file. This
process, the driver, alone writes the results file, so the lock, resume, fingerprints and exit
codes are those of a local run. Jobs travel as they are: a document as its path, a chat request
line with its body. Replicas work in the driver's folder, so documents (and a checkpoint given as
a path) must lie on a file system every node sees at the same path.

Backpressure: a replica holds at most JOBS_PER_REPLICA jobs, the rest wait here; a replica gets
its next one as it hands back a result.

A replica that dies (node lost, process killed for memory) costs only the jobs it held: each goes
back in the queue, up to `retries` times, then is written as an error line (model_error, "replica
died"). The dead replica is replaced when the cluster still has room for it, and the run goes on
with the others; with none left, it stops (fatal) after writing what finished. A replica that
dies while loading the model is not replaced: a new one would most likely die the same way.

Ray is imported here, and this module only when --ray is given.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter

import ray
from ray.exceptions import OutOfMemoryError, RayActorError, RayTaskError, WorkerCrashedError

from minimax_cli.batch.jobs import Job
from minimax_cli.batch.run import Finished, engine_failure, execute, failure_records
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress, ProgressTask

JOBS_PER_REPLICA = 2  # one running, one waiting in the actor, so that it never idles between jobs
DEATHS = (RayActorError, WorkerCrashedError, OutOfMemoryError)  # what a dead replica's calls raise


def connect(address: str) -> bool:
    """Join the Ray cluster `address` names: `auto` (the cluster this machine is part of),
    `local` (start one on this machine), or an address (`host:6379`, `ray://host:10001`). Returns
    whether this call connected: False when this process was a Ray driver already, and stays one."""
    if ray.is_initialized():
        return False
    # Ray's own log lines would fill the cron log; what matters (replicas lost) we report ourselves.
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MinimaxError(ErrorCode.MODEL_ERROR, f"cannot join the Ray cluster at {address}: "
                           f"{_first_line(exc)}") from None
    return True


@dataclass(frozen=True)
class Shape:
    """How many replicas to start and what each asks of the cluster."""

    replicas: int
    cpus: int
    gpus: int


def replica_shape(replicas: int | None, gpus: int) -> Shape:
    """Replicas of `gpus` GPUs each (as many as the nodes' GPUs hold, by default), or with no
    GPUs, on CPUs (one per node by default, sharing a node's cores evenly when several land on
    it). Refuses (BAD_REQUEST, saying why) what the cluster's nodes cannot hold."""
    if replicas is not None and replicas < 1:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--ray-replicas must be at least 1")
    if gpus < 0:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--ray-gpus-per-replica must be 0 or more")
    nodes = [node for node in live_nodes() if node.get("CPU", 0) >= 1]  # a head may keep none for work
    if not nodes:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "the Ray cluster has no node with a CPU to work on")
    if gpus:
        shape = Shape(replicas or _capacity(nodes, 1, gpus), 1, gpus)
    else:
        count = replicas or len(nodes)
        per_node = -(-count // len(nodes))  # spread evenly, rounding up
        shape = Shape(count, max(1, min(int(node["CPU"]) for node in nodes) // per_node), 0)
    room = _capacity(nodes, shape.cpus, shape.gpus)
    if shape.replicas > room or shape.replicas == 0:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"the Ray cluster's {len(nodes)} node(s) hold {room} "
                           f"replica(s) of {_size(shape)}, not {shape.replicas or 'one'}")
    return shape


def live_nodes() -> list[dict]:
    """The resources (CPU, GPU, ...) of each node of the cluster that is up."""
    return [node["Resources"] for node in ray.nodes() if node["Alive"]]


def _capacity(nodes: list[dict], cpus: int, gpus: int) -> int:
    """How many replicas of `cpus` CPUs and `gpus` GPUs fit on `nodes` (a replica lies on one node)."""
    fits = 0
    for node in nodes:
        by_cpus = int(node.get("CPU", 0) // cpus)
        fits += min(by_cpus, int(node.get("GPU", 0) // gpus)) if gpus else by_cpus
    return fits


def _size(shape: Shape) -> str:
    return f"{shape.gpus} GPU(s)" if shape.gpus else f"{shape.cpus} CPU(s)"


class Replica:
    """One copy of the model, in a Ray actor: loads it once, then runs the jobs it is handed and
    returns their records."""

    def __init__(self, model: str, quant: str | None, folder: str):
        self.model, self.quant, self.folder = model, quant, folder
        self.engine = None

    def load(self) -> dict:
        """Load the model: where this replica runs (`{"where": ...}`), or why it cannot
        (`{"error": MinimaxError.to_dict()}`; sent as data, as MinimaxError does not pickle)."""
        from minimax_cli.engine.factory import open_engine

        try:  # the driver's folder, so that relative paths (documents, checkpoint, prompts) mean the same
            os.chdir(self.folder)
        except OSError as exc:
            return {"error": MinimaxError(ErrorCode.NOT_FOUND, f"the driver's working folder is not on this node "
                                          f"({exc.strerror}); documents must lie on a file system every node "
                                          "sees at the same path", self.folder).to_dict()}
        try:
            self.engine = open_engine(self.model, quant=self.quant)
        except MinimaxError as exc:
            return {"error": exc.to_dict()}
        except Exception as exc:
            return {"error": engine_failure(exc, self.model).to_dict()}
        gpus = ray.get_gpu_ids()
        where = f"node {ray.util.get_node_ip_address()}"
        return {"where": where + (f", GPUs {','.join(map(str, gpus))}" if gpus else "")}

    def run(self, job: Job) -> tuple[list[dict], float]:
        """The records of `job` and the seconds it took (here, not counting its wait in the queue)."""
        started = perf_counter()
        records = execute(job, lambda: self.engine)
        return records, perf_counter() - started


@dataclass
class _Replica:
    number: int
    actor: object  # the Ray actor handle
    loading: object | None  # the ObjectRef of its load() call, until it answers
    where: str = ""
    held: dict = field(default_factory=dict)  # ObjectRef of each run() call -> its Job
    count: ProgressTask | None = None  # its finished documents, for the progress display


class RayRunner:
    """Runs jobs on model replicas in Ray actors (see the module docstring). `replicas` None:
    as many as the cluster holds (`replica_shape`); `retries`: how many times a job whose replica
    died runs again before it is written as an error line."""

    replica_class = Replica  # tests put a subclass here

    def __init__(self, address: str, model: str, quant: str | None, replicas: int | None = None,
                 gpus_per_replica: int = 0, retries: int = 2, progress: Progress = NULL_PROGRESS):
        self.address, self.model, self.quant = address, model, quant
        self.wanted, self.gpus, self.retries = replicas, gpus_per_replica, retries
        self.progress = progress
        self.replicas: list[_Replica] = []
        self._numbered = 0
        self._connected = False

    def run(self, jobs: list[Job]) -> Iterator[Finished]:
        """Hand each replica up to JOBS_PER_REPLICA jobs, and the next as each one finishes; the
        cluster is joined on first use, so a batch with nothing to run starts nothing."""
        if not jobs:
            return
        self._connected = connect(self.address)
        self.shape = replica_shape(self.wanted, self.gpus)
        self._actor = (ray.remote(self.replica_class)
                       .options(num_cpus=self.shape.cpus, num_gpus=self.shape.gpus, scheduling_strategy="SPREAD"))
        nodes = live_nodes()
        self.progress.log(f"Ray cluster at {self.address}: {len(nodes)} node(s), "
                          f"{sum(n.get('CPU', 0) for n in nodes):g} CPUs, {sum(n.get('GPU', 0) for n in nodes):g} "
                          f"GPUs; starting {self.shape.replicas} replica(s) of {self.model}, {_size(self.shape)} each")
        for _ in range(self.shape.replicas):
            self._start()
        todo = deque(jobs)
        deaths: dict[tuple[str, ...], int] = {}  # how many replicas died running each job
        while todo or any(r.held for r in self.replicas):
            self._hand_out(todo)
            calls = {ref: r for r in self.replicas for ref in [r.loading, *r.held] if ref is not None}
            if not calls:
                raise MinimaxError(ErrorCode.MODEL_ERROR, f"every Ray replica died; {len(todo)} job(s) not run")
            [ref], _ = ray.wait(list(calls), num_returns=1)
            replica = calls[ref]
            if ref == replica.loading:
                self._loaded(replica)
                continue
            job = replica.held.pop(ref)
            try:
                records, seconds = ray.get(ref)
            except DEATHS as exc:
                replica.held[ref] = job  # one of the jobs it held, all of which go back or fail
                yield from self._died(replica, exc, todo, deaths)
                continue
            except RayTaskError as exc:  # a healthy replica failed this job: its error line, as here
                records, seconds = failure_records(job, engine_failure(exc.cause, job.input)), 0.0
            replica.count.advance()
            yield Finished(job, records, seconds, where=f"replica {replica.number}")

    def _start(self) -> None:
        self._numbered += 1
        actor = self._actor.remote(self.model, self.quant, os.getcwd())
        self.replicas.append(_Replica(self._numbered, actor, actor.load.remote()))

    def _loaded(self, replica: _Replica) -> None:
        try:
            answer = ray.get(replica.loading)
        except DEATHS as exc:  # killed while loading (out of memory, most likely): not replaced
            self.progress.log(f"replica {replica.number} died while loading the model: {_first_line(exc)}")
            self.replicas.remove(replica)
            return
        if "error" in answer:  # the model does not load: no replica will do better
            error = answer["error"]
            raise MinimaxError(ErrorCode(error["code"]), f"replica {replica.number}: {error['message']}",
                               error["path"])
        replica.loading, replica.where = None, answer["where"]
        replica.count = self.progress.task(f"replica {replica.number} ({replica.where})", unit="docs")
        self.progress.log(f"replica {replica.number} ready ({replica.where})")

    def _hand_out(self, todo: deque[Job]) -> None:
        for replica in self.replicas:
            while replica.loading is None and len(replica.held) < JOBS_PER_REPLICA and todo:
                job = todo.popleft()
                replica.held[replica.actor.run.remote(job)] = job

    def _died(self, replica: _Replica, exc: Exception, todo: deque[Job],
              deaths: dict[tuple[str, ...], int]) -> Iterator[Finished]:
        """Put the jobs `replica` held back in the queue, or write their error lines once they
        have been through `retries` deaths; replace it when the cluster has room."""
        self.replicas.remove(replica)
        ray.kill(replica.actor)  # dead already, most likely; if not, its resources are freed
        replica.count.close()
        again = []
        for job in replica.held.values():
            deaths[job.custom_ids] = deaths.get(job.custom_ids, 0) + 1
            if deaths[job.custom_ids] > self.retries:
                problem = MinimaxError(ErrorCode.MODEL_ERROR, f"replica died {deaths[job.custom_ids]} time(s) "
                                       f"while running this job (last: replica {replica.number}, "
                                       f"{_first_line(exc)})", job.input)
                yield Finished(job, failure_records(job, problem), 0.0, where=f"replica {replica.number}")
            else:
                again.append(job)
        todo.extendleft(reversed(again))  # first in line, in their order
        replaced = self._has_room()
        self.progress.log(f"replica {replica.number} ({replica.where}) died: {_first_line(exc)}; "
                          f"{len(again)} job(s) back in the queue"
                          + (f"; starting replica {self._numbered + 1}" if replaced else ""))
        if replaced:
            self._start()

    def _has_room(self) -> bool:
        """Whether the cluster's live nodes hold one more replica besides the ones still running
        (a lost node's share is gone)."""
        return _capacity(live_nodes(), self.shape.cpus, self.shape.gpus) > len(self.replicas)

    def close(self) -> None:
        for replica in self.replicas:
            ray.kill(replica.actor)
            if replica.count is not None:
                replica.count.close()
        self.replicas = []
        if self._connected:
            ray.shutdown()
            self._connected = False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
