"""Many sequences in flight on one model: the generation scheduler.

Requests (prompt ids and their own sampling parameters) are submitted from any thread and come
back as futures. One loop, on a thread of its own, repeats:

    admit     waiting requests while the runner has a free row and memory for them
    prefill   one chunk of the request being prefilled (running rows are not held up for a whole
              document; with nothing running, the whole prompt goes at once)
    decode    one step for every running row: the next token of each, chosen on the device
    retire    every few steps, read the new tokens once and end the rows that hit a stop id, a
              stop string or their length; each such request's future gets its result

A request that cannot run (too long, bad parameters) fails alone at admission. A failure inside a
step fails the requests in flight at that moment and the loop goes on with the waiting ones.

The model side is a `Runner` (engine/hybrid/rows.py for the hybrid runtime): it owns the rows'
device state and knows nothing of stop strings, tokenizers or futures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from minimax_cli.engine.base import GenerationParams, cut_at_stop
from minimax_cli.engine.worker import start_loop
from minimax_cli.progress import NULL_PROGRESS, Progress


IDLE_SECONDS = 10.0  # a loop with nothing to do for this long ends
STATUS_EVERY = 32  # decode steps between updates of the progress line


@dataclass
class Request:
    ids: list[int]
    params: GenerationParams
    shared: int = 0  # leading tokens that other requests share (prefilled once, kept while used)
    progress: Progress = NULL_PROGRESS  # the submitter's: its prefill shows there
    future: Future = field(default_factory=Future)
    tokens: list[int] = field(default_factory=list)  # generated so far (read back from the device)
    submitted: float = field(default_factory=time.perf_counter)
    admitted: float = 0.0  # when it left the queue: its prefill time starts here, not at submit
    prefilled: float = 0.0  # when its first token could be chosen
    cached: int = 0  # prompt tokens served from a shared prefix


@dataclass
class Completion:
    """What the scheduler hands back: the engine turns it into a `Generation`."""

    tokens: list[int]
    text: str  # decoded, cut at a stop string
    finish_reason: str  # stop | length
    prompt_tokens: int
    cached_tokens: int
    prefill_seconds: float
    decode_seconds: float


class Runner(Protocol):
    """The model side of the scheduler: rows on the device."""

    sync_every: int  # decode steps between reads of the new tokens (1 where reading costs nothing)

    def check(self, request: Request) -> None:
        """Raise (a MinimaxError) if the request can never run here."""

    def has_room(self, request: Request) -> bool:
        """A free row and memory for this request now."""

    def prefill(self, request: Request, alone: bool) -> bool:
        """Advance the request's prefill by a chunk (all of it when `alone`); True once it is a
        running row whose first token has been chosen."""

    def step(self) -> None:
        """One decode step for every running row."""

    def read(self) -> list[tuple[Request, list[int]]]:
        """The tokens chosen since the last read, per running row (one device read)."""

    def retire(self, requests: Sequence[Request]) -> None:
        """Free these rows (and any shared prefix no one uses any more)."""

    def reset(self) -> None:
        """Drop every row after a failure."""


class Scheduler:
    def __init__(self, runner: Runner, decode: Callable[[list[int]], str], stop_ids: Sequence[int],
                 progress: Progress = NULL_PROGRESS):
        self.runner = runner
        self.decode = decode
        self.stop_ids = frozenset(stop_ids)
        self.progress = progress
        self._waiting: deque[Request] = deque()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._at_exit = False
        self._tokens = 0  # kept so far, for the status line's rate
        self._rate_mark = (time.perf_counter(), 0)

    # ---- the caller's side ----------------------------------------------------------------

    def submit(self, ids: list[int], params: GenerationParams, shared: int = 0,
               progress: Progress = NULL_PROGRESS) -> Future:
        """Queue a request; its future resolves to a `Completion` or raises its error."""
        return self.submit_many([ids], params, shared, progress)[0]

    def submit_many(self, prompts: list[list[int]], params: GenerationParams, shared: int = 0,
                    progress: Progress = NULL_PROGRESS) -> list[Future]:
        """Queue several requests at once: the loop sees them together, so how they are batched
        does not depend on thread timing (nor, then, their last bits)."""
        requests = [Request(list(ids), params, shared, progress) for ids in prompts]
        with self._lock:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            self._waiting.extend(requests)
            start_loop(self, "minimax-scheduler")
            self._lock.notify()
        return [request.future for request in requests]

    def close(self) -> None:
        """Finish what was submitted, then end the loop; later submits are refused."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    # ---- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        running: list[Request] = []
        prefilling: Request | None = None
        steps = 0
        task = None
        while True:
            with self._lock:
                while not (self._waiting or running or prefilling or self._closed):
                    if task is not None:
                        task.close()
                        task = None
                    if not self._lock.wait(timeout=IDLE_SECONDS) and not self._waiting:
                        # idle: end the thread (the next submit starts another) and drop what the
                        # runner kept for reuse, so an engine nobody uses holds no thread or memory
                        self.runner.reset()
                        self._thread = None
                        return
                if self._closed and not (self._waiting or running or prefilling):
                    return
                if prefilling is None:
                    prefilling = self._admit()
            if task is None:
                task = self.progress.task("generating", unit="tokens")
            try:
                if prefilling is not None and self.runner.prefill(prefilling, alone=not running):
                    prefilling.prefilled = time.perf_counter()
                    running.append(prefilling)
                    prefilling = None
                if running:
                    self.runner.step()
                    steps += 1
                    if steps % self.runner.sync_every == 0:
                        task.advance(self._collect(running))
                        if steps % STATUS_EVERY == 0:
                            task.describe(self._status(len(running), prefilling is not None))
            except BaseException as exc:  # the step failed: so did every request in it
                self.runner.reset()
                for request in running + ([prefilling] if prefilling else []):
                    _fail(request, exc)
                running, prefilling = [], None

    def _status(self, running: int, prefilling: bool) -> str:
        """`generating: 12 running, 1 prefilling, 40 waiting, 310 tokens/s` over the last stretch."""
        now = time.perf_counter()
        rate = (self._tokens - self._rate_mark[1]) / max(now - self._rate_mark[0], 1e-9)
        self._rate_mark = (now, self._tokens)
        parts = [f"{running} running"] + (["1 prefilling"] if prefilling else [])
        return f"generating: {', '.join(parts)}, {len(self._waiting)} waiting, {rate:,.0f} tokens/s"

    def _admit(self) -> Request | None:
        """The next waiting request that can start now; ones that can never run fail here."""
        while self._waiting:
            request = self._waiting[0]
            try:
                self.runner.check(request)
            except BaseException as exc:
                self._waiting.popleft()
                _fail(request, exc)
                continue
            if not self.runner.has_room(request):
                return None
            request.admitted = time.perf_counter()
            return self._waiting.popleft()
        return None

    def _collect(self, running: list[Request]) -> int:
        """Read the new tokens, end finished rows, resolve their futures. Returns tokens kept."""
        done: list[Request] = []
        kept = 0
        for request, new in self.runner.read():
            finish = None
            for token in new:
                if token in self.stop_ids:
                    finish = "stop"
                    break
                request.tokens.append(token)
                kept += 1
                self._tokens += 1
                if len(request.tokens) >= request.params.max_new_tokens:
                    finish = "length"
                    break
            text = None
            if request.params.stop:
                text = self.decode(request.tokens)
                if (cut := cut_at_stop(text, request.params.stop)) is not None:
                    text, finish = cut, "stop"
            if finish:
                done.append(request)
                _resolve(request, finish, text if text is not None else self.decode(request.tokens))
        if done:
            self.runner.retire(done)
            for request in done:
                running.remove(request)
        return kept


def then(future: Future, convert: Callable) -> Future:
    """A future of `convert(result)`, failing as `future` fails."""
    out: Future = Future()

    def done(f: Future) -> None:
        try:
            out.set_result(convert(f.result()))
        except BaseException as exc:
            out.set_exception(exc)

    future.add_done_callback(done)
    return out


def _resolve(request: Request, finish: str, text: str) -> None:
    now = time.perf_counter()
    request.future.set_result(Completion(
        tokens=request.tokens, text=text, finish_reason=finish, prompt_tokens=len(request.ids),
        cached_tokens=request.cached, prefill_seconds=request.prefilled - request.admitted,
        decode_seconds=now - request.prefilled))


def _fail(request: Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
