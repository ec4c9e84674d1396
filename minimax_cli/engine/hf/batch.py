"""Several conversations decoded together on the HF engine: `Batcher` and `decode_rows`.

Decoding on the CPU is memory-bound, so a forward of 4 rows costs less than 4 of 1 row.
`HFEngine.submit` queues a request with the engine's `Batcher`; one worker thread (started on first
use, ended after IDLE_SECONDS idle) waits GATHER_SECONDS for a window of submits, then takes the
oldest waiting request and the next ones with its temperature and top_p, up to `max_rows` (seed,
stop strings and max_new_tokens are each row's own), and runs them as one group. A group of one
goes through `HFEngine.generate` (prompt-lookup drafts included); a larger one through `decode_rows`:

- each row is prefilled alone (the engine's chunked `_prefill`); one that cannot run (too long)
  fails alone;
- the rows' caches are merged into one DynamicCache, each layer's keys and values left-padded to
  the longest row, with an attention mask [B, L] (0 on padding) and each row's own position;
- each forward decodes one token per row, chosen as `_step_tokens` chooses it alone (repetition
  penalty over the row's own answer, greedy or sampled from the row's own seeded generator), so a
  row's tokens do not depend on its batch (up to the last bits of batched arithmetic);
- a row ends on an end-of-turn id, a stop string or its limit and leaves the batch (its rows of
  cache, mask and positions, and the padding no remaining row needs, are dropped).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from minimax_cli.engine.base import Generation, GenerationParams, Message, split_reasoning
from minimax_cli.engine.worker import RequestQueue
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

DEFAULT_ROWS = 4  # MINIMAX_CPU_ROWS unset: a 4-row step costs about two 1-row steps on 2 cores
GATHER_SECONDS = 0.02  # the worker waits this long for a window of submits before forming a group
IDLE_SECONDS = 10.0  # a worker with nothing to do for this long ends (the next submit starts one)


@dataclass(eq=False)  # compared by identity
class Request:
    messages: Sequence[Message]
    params: GenerationParams
    progress: Progress = NULL_PROGRESS
    future: Future = field(default_factory=Future)


class Batcher(RequestQueue):
    """The HF engine's queue of submitted requests and the worker that runs them in groups."""

    def __init__(self, engine, max_rows: int):
        self.engine = engine
        self.max_rows = max_rows
        super().__init__("minimax-hf-batch")

    def submit(self, messages: Sequence[Message], params: GenerationParams,
               progress: Progress = NULL_PROGRESS) -> Future:
        return self._enqueue(Request(list(messages), params, progress))

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    if not self._lock.wait(timeout=IDLE_SECONDS) and not self._waiting:
                        self._thread = None
                        return
                if self._closed:
                    self._thread = None
                    return
            time.sleep(GATHER_SECONDS)  # let the rest of a window of submits arrive
            with self._lock:
                group = self._take()
            run_group(self.engine, group)

    def _take(self) -> list[Request]:
        """The oldest waiting request and the next ones sampled as it is, up to max_rows."""
        key = _group_key(self._waiting[0].params)
        group = [r for r in self._waiting if _group_key(r.params) == key][:self.max_rows]
        self._waiting = deque(r for r in self._waiting if r not in group)
        return group


def _group_key(params: GenerationParams) -> tuple:
    return (params.temperature, params.top_p)


def run_group(engine, group: list[Request]) -> None:
    """Answer every request of `group`; each future gets its Generation or its own error."""
    group = [r for r in group if r.future.set_running_or_notify_cancel()]
    if len(group) == 1:
        request = group[0]
        try:
            request.future.set_result(engine.generate(request.messages, request.params, request.progress))
        except BaseException as exc:
            request.future.set_exception(exc)
        return
    if group:
        prompts = [_prompt_ids(engine, request.messages) for request in group]
        with engine.model_lock:  # a caller's own `generate` on another thread waits for the group
            results = decode_rows(engine, prompts, [r.params for r in group], [r.progress for r in group])
        for request, result in zip(group, results):
            if isinstance(result, BaseException):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)


def _prompt_ids(engine, messages: Sequence[Message]) -> list[int] | BaseException:
    try:
        return engine.chat.prompt_ids(messages)
    except BaseException as exc:  # the request fails alone
        return exc


class _Row:
    def __init__(self, engine, ids: list[int], params: GenerationParams, limit: int):
        from minimax_cli.engine.hf.engine import _Seen

        self.ids, self.params, self.limit, self.out = ids, params, limit, []
        self.seen = _Seen(limit, engine.device)
        self.generator = torch.Generator(engine.device).manual_seed(params.seed)
        self.logits: torch.Tensor | None = None  # [1, vocab] fp32: the next token's
        self.cache, self.prefill_seconds = None, 0.0  # its own cache, until merged
        self.result: Generation | BaseException | None = None

    def finish(self, reason: str, text: str, started: float) -> None:
        answer, reasoning = split_reasoning(text)
        self.cache = None
        self.result = Generation(
            text=answer, prompt_tokens=len(self.ids), completion_tokens=len(self.out), finish_reason=reason,
            prefill_seconds=self.prefill_seconds, decode_seconds=time.perf_counter() - started,
            reasoning=reasoning,
        )

    def take(self, engine, token: int, started: float) -> bool:
        """Add the chosen token; True (with the result set) when the row has ended, as
        `_decode_loop` ends it."""
        self.out.append(token)
        self.seen.append([token])
        if (end := engine.ending(self.out, self.params, self.limit)) is not None:
            self.finish(*end, started)
        return self.result is not None


def decode_rows(engine, prompts: list[list[int] | BaseException], params: list[GenerationParams],
                progress: list[Progress]) -> list[Generation | BaseException]:
    """Answer each prompt (its ids, or the error that making them raised) as `engine.generate`
    would with lookahead off, decoding the rows together; each one's Generation or error."""
    rows: list[_Row | None] = []
    with torch.inference_mode():
        for ids, p, prog in zip(prompts, params, progress):
            if isinstance(ids, BaseException):
                rows.append(None)
                continue
            try:
                row = _Row(engine, ids, p, engine.room(len(ids), p))
                started = time.perf_counter()
                if row.limit > 0:
                    row.logits, row.cache = engine._prefill(ids, None, prog)
                row.prefill_seconds = time.perf_counter() - started
            except BaseException as exc:
                rows.append(exc)  # type: ignore[arg-type]
                continue
            rows.append(row)
        live = [r for r in rows if isinstance(r, _Row)]
        started = time.perf_counter()
        for row in (r for r in live if r.limit <= 0):
            row.finish("length", "", started)
        active = [r for r in live if r.result is None]
        task = (progress[0] if progress else NULL_PROGRESS).task(
            f"generating ({len(active)} rows)", sum(r.limit for r in active), "tokens")
        try:
            _decode(engine, active, started, task)
        except BaseException as exc:  # a failed step fails the rows still running
            for row in active:
                if row.result is None:
                    row.result = exc
        finally:
            task.close()
    return [ids if row is None else row if isinstance(row, BaseException) else row.result  # type: ignore
            for ids, row in zip(prompts, rows)]


def _decode(engine, rows: list[_Row], started: float, task) -> None:
    """One token per row per forward until every row has ended."""
    cache = mask = None
    positions: list[int] = []
    while rows:
        ended = []
        for i, row in enumerate(rows):
            token = engine._pick(row.seen.ids, row.logits, row.params, row.generator)
            task.advance()
            if row.take(engine, token, started):
                ended.append(i)
        if ended:
            keep = [i for i in range(len(rows)) if i not in ended]
            if not (rows := [rows[i] for i in keep]):
                return
            if cache is not None:
                cache, mask = _select(cache, mask, keep)
                positions = [positions[i] for i in keep]
        if cache is None:
            cache, mask = _merge([row.cache for row in rows], engine.device)
            positions = [len(row.ids) for row in rows]
            for row in rows:
                row.cache = None  # merged
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
        out = engine.model(
            input_ids=torch.tensor([[row.out[-1]] for row in rows], device=engine.device),
            **{engine.cache_name: cache}, attention_mask=mask,
            position_ids=torch.tensor([[p] for p in positions], device=engine.device),
            use_cache=True, logits_to_keep=1,
        )
        cache = getattr(out, engine.cache_name)
        logits = out.logits[:, -1].float()
        for i, row in enumerate(rows):
            row.logits = logits[i:i + 1]
        positions = [p + 1 for p in positions]


def _merge(caches: list, device: torch.device) -> tuple[DynamicCache, torch.Tensor]:
    """One DynamicCache of the rows' caches, each left-padded to the longest; the mask [B, L]."""
    for cache in caches:
        if not all(type(layer) is DynamicLayer for layer in cache.layers):
            raise NotImplementedError("batched decoding needs full-attention (DynamicLayer) caches")
    lengths = [cache.get_seq_length() for cache in caches]
    longest = max(lengths)
    merged = DynamicCache()
    for layer in range(len(caches[0].layers)):
        keys, values = [], []
        for cache, length in zip(caches, lengths):
            pad = (0, 0, longest - length, 0)  # before the sequence dim, [1, heads, length, dim]
            keys.append(torch.nn.functional.pad(cache.layers[layer].keys, pad))
            values.append(torch.nn.functional.pad(cache.layers[layer].values, pad))
        merged.update(torch.cat(keys), torch.cat(values), layer)
    mask = torch.zeros((len(caches), longest), dtype=torch.long, device=device)
    for i, length in enumerate(lengths):
        mask[i, longest - length:] = 1
    return merged, mask


def _select(cache: DynamicCache, mask: torch.Tensor, keep: list[int]) -> tuple[DynamicCache, torch.Tensor]:
    """Keep these rows; drop the leading columns that are padding in every one of them."""
    index = torch.tensor(keep, device=mask.device)
    mask = mask[index]
    padding = int((mask.cumsum(dim=1) == 0).all(dim=0).sum())  # left padding is a prefix
    for layer in cache.layers:
        layer.keys = layer.keys[index, :, padding:]
        layer.values = layer.values[index, :, padding:]
    return cache, mask[:, padding:]
