"""`HybridRunner`: the scheduler's rows on the hybrid runtime.

A request is prefilled into a one-row `HybridCache` (the tested chunked, pipelined path), then
joins the decode batch as a slot (slots.py). A request whose leading tokens are shared with others
prefills them once into a `SharedPrefix` that every such row reads; only its own remainder is
prefilled, starting from a copy of the prefix's states. Unused prefixes stay until their memory is
wanted, so the next question over the same document finds its prefix ready.

Each decode step embeds every row's pending token, runs the layers over a `DecodeView`, and picks
the next tokens on the device (sampling.py); the host reads them every `sync_every` steps. On one
GPU the step (all but the sampling) is replayed as a CUDA graph per step shape (graphs.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from minimax_cli.engine.base import MIN_SHARED_PREFIX
from minimax_cli.engine.hybrid.cache import HybridCache
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.graphs import DecodeSteps, graphs_wanted
from minimax_cli.engine.hybrid.slots import KEY_BLOCK, DecodeView, SharedPrefix, SlotCache
from minimax_cli.engine.hybrid.stream import prefill
from minimax_cli.engine.sampling import sample_tokens
from minimax_cli.engine.scheduler import Request
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import Progress

GPU_SYNC_EVERY = 8  # decode steps between token reads on a GPU (a read waits for the device)


class HybridRunner:
    def __init__(self, model: HybridForCausalLM, *, context_window: int, chunk_size: int,
                 max_rows: int, memory_budget: int, graphs: bool = True):
        self.model = model
        self.window = context_window
        self.chunk_size = chunk_size
        self.max_rows = max_rows
        self.budget = memory_budget
        self.embed_device = model.model.embed_tokens.weight.device
        self.head_device = model.lm_head.weight.device
        self.sync_every = GPU_SYNC_EVERY if self.head_device.type == "cuda" else 1
        self.slots = SlotCache(model.config, model.layer_devices(), model.model.embed_tokens.weight.dtype)
        self.steps = DecodeSteps(self.slots, self.embed_device, graphs and graphs_wanted(model.layer_devices()))
        self.prefixes: dict[tuple[int, ...], SharedPrefix] = {}  # insertion order = age
        self._work: dict[int, object] = {}  # a request's prefill in progress (a generator)
        self._alone = False
        self.reset()

    def reset(self) -> None:
        self.slots.release()
        self.steps.clear()
        self.requests: list[Request] = []  # by slot
        self.params: list[tuple[float, float, int, int]] = []  # temperature, top_p, seed, step
        self._pending = torch.zeros(0, dtype=torch.long, device=self.embed_device)  # next input per row
        self._sampling: dict | None = None  # device tensors of `params`, rebuilt when rows change
        self._log: list[tuple[list[Request], torch.Tensor]] = []
        self._work.clear()
        self.prefixes.clear()

    # ---- admission ------------------------------------------------------------------------

    def check(self, request: Request) -> None:
        p = request.params
        if not request.ids:
            raise MinimaxError(ErrorCode.BAD_REQUEST, "an empty prompt")
        if len(request.ids) >= self.window:
            raise MinimaxError(ErrorCode.TOO_LARGE, f"the prompt is {len(request.ids)} tokens; the context "
                               f"window is {self.window}")
        if p.max_new_tokens < 1 or p.temperature < 0 or not 0 < p.top_p <= 1:
            raise MinimaxError(ErrorCode.BAD_REQUEST, "max_new_tokens must be at least 1, temperature at "
                               "least 0, top_p in (0, 1]")
        request.shared = min(request.shared, len(request.ids) - 1)
        if self._bytes_needed(request, kept_prefixes=False) > self.budget:  # prefixes go when unused
            raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"a {len(request.ids)}-token prompt with "
                               f"{p.max_new_tokens} new tokens needs more memory than this engine has")

    def _own_tokens(self, request: Request) -> int:
        shared = request.shared if request.shared >= MIN_SHARED_PREFIX else 0
        # a joining row is given KEY_BLOCK tokens of room to decode into (slots.py)
        return len(request.ids) - shared + max(request.params.max_new_tokens + self.sync_every, KEY_BLOCK)

    def _bytes_needed(self, request: Request, rows: int = 1, tokens: int = 0, kept_prefixes: bool = True) -> int:
        """Memory for the slots grown to hold this request too, plus its prefill cache, plus the
        shared prefixes kept now (`kept_prefixes`)."""
        slots = self.slots.bytes_for(max(rows, 1), max(tokens, self._own_tokens(request)))
        kept = self._prefix_bytes() if kept_prefixes else 0
        return slots + self.slots.bytes_for(1, len(request.ids)) + kept

    def _prefix_bytes(self) -> int:
        return sum(self.slots.bytes_for(1, p.cache.capacity) for p in self.prefixes.values())

    def has_room(self, request: Request) -> bool:
        rows = len(self.requests) + 1
        if rows > self.max_rows:
            return False
        grown = 1 << (rows - 1).bit_length()  # slots grow by doubling
        while self._bytes_needed(request, grown, self.slots.capacity) > self.budget:
            if not self._evict_unused_prefix():
                return False
        return True

    def _evict_unused_prefix(self) -> bool:
        for key, prefix in self.prefixes.items():
            if prefix.users == 0:
                del self.prefixes[key]
                return True
        return False

    # ---- prefill --------------------------------------------------------------------------

    @torch.inference_mode()
    def prefill(self, request: Request, alone: bool) -> bool:
        self._alone = alone
        work = self._work.get(id(request))
        if work is None:
            work = self._work[id(request)] = self._prefill(request)
        try:
            next(work)
            return False
        except StopIteration:
            del self._work[id(request)]
            return True

    def _prefill(self, request: Request):
        """A generator: prefills `request` a chunk per `next`, then makes it a running row."""
        prefix = None
        if request.shared >= MIN_SHARED_PREFIX:
            key = tuple(request.ids[: request.shared])
            prefix = self.prefixes.get(key)
            if prefix is None:
                cache = self.model.new_cache(capacity=len(request.ids))
                yield from self._run(cache, request.ids[: request.shared], request.progress)
                prefix = SharedPrefix(cache, request.shared, {i: s.clone() for i, s in cache.states.items()})
                self.prefixes[key] = prefix
            else:
                request.cached = request.shared
            prefix.users += 1
            cache = prefix.cache  # the row's own tokens go above the prefix, which stays as it was
            cache.length = prefix.length
            cache.states = {i: s.clone() for i, s in prefix.states.items()}
            rest = request.ids[request.shared:]
        else:
            cache = self.model.new_cache(capacity=len(request.ids))
            rest = request.ids
        last = yield from self._run(cache, rest, request.progress)
        self._join(request, cache, prefix, last)

    def _run(self, cache: HybridCache, tokens: list[int], progress: Progress):
        """Prefill `tokens` into `cache`, yielding between chunks unless the request runs alone
        (then the whole remainder goes through the pipelined path). Returns the last hidden state."""
        last, done = None, 0
        task = progress.task("prefill", total=len(tokens), unit="tokens")
        try:
            while done < len(tokens):
                if self._alone:
                    last = prefill(self.model, cache, tokens[done:], self.chunk_size, total=len(tokens) - done)
                    task.advance(len(tokens) - done)
                    break
                chunk = tokens[done:done + self.chunk_size]
                last = self.model(torch.tensor([chunk], device=self.embed_device), cache)[:, -1]
                done += len(chunk)
                task.advance(len(chunk))
                if done < len(tokens):
                    yield
        finally:
            task.close()
        return last

    def _join(self, request: Request, cache: HybridCache, prefix: SharedPrefix | None,
              last: torch.Tensor) -> None:
        slot = self.slots.join(cache, prefix)
        self._sync_steps()
        self.requests.append(request)
        p = request.params
        self.params.append((p.temperature, p.top_p, p.seed, 0))
        self._sampling = None
        first = self._sample(self.model.logits(last), [slot])  # [1]
        self._pending = torch.cat([self._pending[:slot], first.to(self.embed_device)])
        self._log.append(([request], first))

    # ---- decode ---------------------------------------------------------------------------

    @torch.inference_mode()
    def step(self) -> None:
        B = self.slots.active
        view = self.steps.view(self._pending)
        logits = self.steps.run(view, self._forward)[:B]  # padding rows' logits are dropped
        tokens = self._sample(logits, list(range(B)))  # [B]
        self.slots.advance()
        self._pending = tokens.to(self.embed_device)
        self._log.append((list(self.requests), tokens))

    def _forward(self, view: DecodeView) -> torch.Tensor:
        """fp32 logits [W, V] of one decode step over `view`'s rows (the part a graph captures)."""
        x = self.model.embed(view.tokens[:, None])  # [W, 1, C]
        hidden = self.model.run_layers(x, view, None, range(len(self.model.model.layers)))
        return self.model.logits(self.model.final_norm(hidden)[:, -1])

    def _sample(self, logits: torch.Tensor, slots: list[int]) -> torch.Tensor:
        """Next token of `slots` (rows of `logits`), each by its own parameters and step."""
        if self._sampling is None:
            t, p, seed, step = zip(*self.params)
            dev = self.head_device
            self._sampling = {
                "temperature": torch.tensor(t, dtype=torch.float32, device=dev),
                "top_p": torch.tensor(p, dtype=torch.float32, device=dev),
                "seed": torch.tensor(seed, dtype=torch.long, device=dev),
                "step": torch.tensor(step, dtype=torch.long, device=dev),
                "greedy": all(x <= 0 for x in t),
                "any_top_p": any(x < 1 for x in p),
            }
        s = self._sampling
        index = slots if len(slots) < len(self.params) else slice(None)
        if s["greedy"]:
            tokens = logits.argmax(-1)
        else:
            tokens = sample_tokens(logits, s["temperature"][index], s["top_p"][index], s["seed"][index],
                                   s["step"][index], any_top_p=s["any_top_p"])
        s["step"][index] += 1
        return tokens

    @torch.inference_mode()
    def read(self) -> list[tuple[Request, list[int]]]:
        if not self._log:
            return []
        flat = torch.cat([t.to("cpu", non_blocking=False) for _, t in self._log]).tolist()
        new: dict[int, tuple[Request, list[int]]] = {}
        i = 0
        for requests, _ in self._log:
            for request in requests:
                new.setdefault(id(request), (request, []))[1].append(flat[i])
                i += 1
        self._log.clear()
        return list(new.values())

    @torch.inference_mode()
    def retire(self, requests: Sequence[Request]) -> None:
        self._sync_steps()
        for request in requests:
            slot = self.requests.index(request)
            prefix = self.slots.rows[slot].prefix
            if prefix is not None:
                prefix.users -= 1
            moved = self.slots.leave(slot)
            if moved is not None:
                self.requests[slot] = self.requests[moved]
                self.params[slot] = self.params[moved]
                self._pending[slot] = self._pending[moved]
            self.requests.pop()
            self.params.pop()
            self._pending = self._pending[: len(self.requests)]
        self._sampling = None
        if not self.requests:
            self.slots.release()
            self.steps.clear()

    def _sync_steps(self) -> None:
        """Carry the device's step counters back into `params` before the rows are rearranged."""
        if self._sampling is not None:
            steps = self._sampling["step"].tolist()
            self.params = [(t, p, s, steps[i]) for i, (t, p, s, _) in enumerate(self.params)]
