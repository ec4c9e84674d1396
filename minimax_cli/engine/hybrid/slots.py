"""The running rows of a decode batch: one slot per sequence, each at its own position.

A slot holds a row's fp32 lightning states and the KV of its *own* tokens (those after any shared
prefix). Rows that share a prefix (several questions over one document, one system prompt before
many blocks) read that prefix's KV from one `HybridCache` that every such row points at, and start
from a copy of its lightning states.

Slots [0, active) are the decoding rows, always contiguous, so a decode step works on views with
no gather: a row that leaves is replaced by the last one (`move`). KV is kept per slot up to
`capacity` tokens, grown by doubling for all slots at once.

`DecodeView` answers the model's cache questions (positions, attend, lightning state) for one
decode step of all active rows. Own-KV attention masks each row to its own length; the prefix
part attends the rows to each prefix's keys with the rows folded into the query length (no copy
of the prefix), rows that do not read it masked out, and the two are merged by their log-sum-exps.
Nothing in a step depends on host-side lists, so a step can be captured as a CUDA graph.

Shapes: R slots, B active rows, W rows a step computes (B and padding), H query heads, Hkv KV
heads, D head dim, L own-KV length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.engine.hybrid.attention import attend_with_lse, merge_by_lse
from minimax_cli.engine.hybrid.cache import HybridCache
from minimax_cli.engine.hybrid.config import HybridConfig

KEY_BLOCK = 256  # room a joining row gets to decode into before the slots regrow


@dataclass
class SharedPrefix:
    """A prefix's KV and lightning states, in a cache that rows read but never write below `length`."""

    cache: HybridCache
    length: int
    states: dict[int, torch.Tensor]  # the lightning states after the prefix, [1, H, D, D]
    users: int = 0  # rows (and requests being prefilled) that point at it


@dataclass
class _Row:
    base: int = 0  # tokens before the row's own KV (its prefix's length)
    own: int = 0  # own tokens in the slot's KV
    prefix: SharedPrefix | None = None


class SlotCache:
    def __init__(self, config: HybridConfig, devices: list[torch.device], dtype: torch.dtype):
        self.config, self.dtype, self.devices = config, dtype, devices
        H, D, Hkv = config.num_attention_heads, config.head_dim, config.num_key_value_heads
        self._state_shape, self._kv_shape = (H, D, D), (Hkv, D)
        self.release()

    def release(self) -> None:
        """Free every slot's memory and forget every row."""
        self.active = 0
        self.rows: list[_Row] = []
        self.capacity = 0  # own tokens each slot can hold
        self.generation = getattr(self, "generation", 0) + 1  # new tensors: views made before are stale
        self.states: dict[int, torch.Tensor] = {}
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    @torch.inference_mode()  # the model updates these under inference mode, so they are made there
    def reserve(self, rows: int, tokens: int) -> None:
        """Room for `rows` slots of `tokens` own tokens each; grows by doubling, keeping what the
        active rows hold."""
        if rows <= len(self.rows) and tokens <= self.capacity:
            return
        rows = max(rows, 2 * len(self.rows) if rows > len(self.rows) else len(self.rows))
        tokens = max(tokens, 2 * self.capacity if tokens > self.capacity else self.capacity)
        keep_rows, keep = self.active, max((r.own for r in self.rows[: self.active]), default=0)
        for i in self.config.lightning_layers:
            grown = torch.zeros(rows, *self._state_shape, dtype=torch.float32, device=self.devices[i])
            if keep_rows:
                grown[:keep_rows] = self.states[i][:keep_rows]
            self.states[i] = grown
        for i in self.config.softmax_layers:
            for store in (self.keys, self.values):
                # zeros, not empty: keys past a row's length are masked, but a masked weight of 0
                # times a NaN left in uninitialised memory would still be NaN
                grown = torch.zeros(rows, self._kv_shape[0], tokens, self._kv_shape[1], dtype=self.dtype,
                                    device=self.devices[i])
                if keep_rows and keep:
                    grown[:keep_rows, :, :keep] = store[i][:keep_rows, :, :keep]
                store[i] = grown
        self.rows += [_Row() for _ in range(rows - len(self.rows))]
        self.capacity = tokens
        self.generation += 1

    def bytes_for(self, rows: int, tokens: int) -> int:
        """What `reserve(rows, tokens)` would hold in all."""
        Hkv, D = self._kv_shape
        H, _, _ = self._state_shape
        kv = 2 * Hkv * D * self.dtype.itemsize * len(self.config.softmax_layers)
        state = H * D * D * 4 * len(self.config.lightning_layers)
        return rows * (tokens * kv + state)

    @torch.inference_mode()
    def join(self, source: HybridCache, prefix: SharedPrefix | None) -> int:
        """Append a prefilled row as slot `active`: its lightning states, and the KV of `source`
        after the prefix (the row's own tokens). Returns the slot."""
        slot = self.active
        base = prefix.length if prefix else 0
        own = source.length - base
        self.reserve(slot + 1, own + KEY_BLOCK)  # room to decode into before the slots regrow
        for i, state in source.states.items():
            self.states[i][slot] = state[0]
        for i in self.config.softmax_layers:
            self.keys[i][slot, :, :own] = source.keys[i][0, :, base:source.length]
            self.values[i][slot, :, :own] = source.values[i][0, :, base:source.length]
        self.rows[slot] = _Row(base, own, prefix)
        self.active += 1
        return slot

    @torch.inference_mode()
    def leave(self, slot: int) -> int | None:
        """Drop row `slot`; the last active row moves into its place. Returns the slot that moved
        there (its old index), or None."""
        last = self.active - 1
        moved = None
        if slot != last:
            self._move(last, slot)
            moved = last
        self.rows[last] = _Row()
        self.active -= 1
        return moved

    @torch.inference_mode()
    def _move(self, src: int, dst: int) -> None:
        own = self.rows[src].own
        for i in self.states:
            self.states[i][dst] = self.states[i][src]
        for i in self.config.softmax_layers:
            self.keys[i][dst, :, :own] = self.keys[i][src, :, :own]
            self.values[i][dst, :, :own] = self.values[i][src, :, :own]
        self.rows[dst] = self.rows[src]

    def view(self, width: int | None = None, static: bool = False) -> "DecodeView":
        """This step's view of the active rows (padded to `width` rows), filled in."""
        view = DecodeView(self, width or self.active, self.prefixes(), self.devices[0], static=static)
        view.update(torch.zeros(self.active, dtype=torch.long, device=self.devices[0]))
        return view

    def prefixes(self) -> list[SharedPrefix]:
        """The shared prefixes the active rows read, in a fixed order."""
        seen: dict[int, SharedPrefix] = {}
        for row in self.rows[: self.active]:
            if row.prefix is not None:
                seen.setdefault(id(row.prefix), row.prefix)
        return list(seen.values())

    def step_shape(self, width: int, prefixes: list[SharedPrefix], key_block: int = 1) -> tuple:
        """Make room for a decode step of `width` rows and name what a view of it captures: the
        rows, the own-KV length it attends over (the longest row's, rounded up to `key_block` so
        that it holds for many steps where a graph is kept for it), the slots' tensors and the
        prefixes' KV."""
        longest = max((r.own for r in self.rows[: self.active]), default=0) + 1
        self.reserve(width, longest)
        keys = min(-(-longest // key_block) * key_block, self.capacity)
        kv = tuple((id(p), p.length, p.cache.capacity, *(t.data_ptr() for t in p.cache.keys.values()))
                   for p in prefixes)
        return width, keys, self.generation, kv

    def advance(self) -> None:
        """After a decode step: each active row holds one more token."""
        for row in self.rows[: self.active]:
            row.own += 1


class DecodeView:
    """`width` rows of a `SlotCache` as the model's cache for one decode step (T == 1): the active
    rows, then padding rows (from free slots, computed and thrown away) up to a batch bucket.

    The view's per-step numbers (each row's own length and position, which prefix it reads) live
    in device tensors that `update` refills in place before each step, so a CUDA graph captured
    over a step reads the next step's numbers where it read the last one's. What a view captures
    for good: `width`, the own-KV length it attends over (`keys`), the slots' tensors and the
    prefixes' KV; `shape` names them, and a change in any of them calls for a new view.

    A prefix's attention runs for the rows that read it, gathered; in a `static` view (one a graph
    is captured over) it runs for every row and the others are masked, which costs compute per
    prefix, so graphs are kept for steps with at most a few prefixes (graphs.py)."""

    def __init__(self, slots: SlotCache, width: int, prefixes: list[SharedPrefix], token_device: torch.device,
                 key_block: int = 1, static: bool = False):
        self.slots, self.width, self.prefixes = slots, width, prefixes
        self.static = static  # a graph may be captured over it: nothing may depend on host lists
        self.shape = slots.step_shape(width, prefixes, key_block)
        self.keys = self.shape[1]
        self.tokens = torch.zeros(width, dtype=torch.long, device=token_device)  # the step's input
        self._per_device = {}
        for device in dict.fromkeys(slots.devices):
            self._per_device[device] = {
                "numbers": torch.zeros(2 + len(prefixes), width, dtype=torch.long, device=device),
                "rows": torch.arange(width, device=device),
                "key_index": torch.arange(self.keys, device=device),
            }

    def update(self, tokens: torch.Tensor) -> None:
        """Copy this step's input `tokens` [B], and its rows' lengths, positions and prefix
        membership, into the view's tensors."""
        self.tokens[: tokens.shape[0]].copy_(tokens)
        rows = self.slots.rows[: self.slots.active]
        pad = [0] * (self.width - len(rows))
        numbers = [[r.own for r in rows] + pad, [r.base + r.own for r in rows] + pad]
        numbers += [[int(r.prefix is p) for r in rows] + pad for p in self.prefixes]
        host = torch.tensor(numbers, dtype=torch.long)
        for t in self._per_device.values():
            t["numbers"].copy_(host)
            if not self.static:  # each prefix's rows, gathered: its attention runs for them alone
                t["members"] = [torch.tensor([b for b, r in enumerate(rows) if r.prefix is p],
                                             device=t["numbers"].device) for p in self.prefixes]

    def positions(self, start, tokens: int, device: torch.device) -> torch.Tensor:
        return self._per_device[device]["numbers"][1][:, None]  # [W, 1]

    def lightning_state(self, layer: int) -> torch.Tensor:
        return self.slots.states[layer][: self.width]

    def set_lightning_state(self, layer: int, state: torch.Tensor) -> None:
        target = self.slots.states[layer][: self.width]
        if state.data_ptr() != target.data_ptr():  # the CUDA step updates the state in place
            target.copy_(state)

    def attend(self, layer: int, q, k, v, start, scale: float) -> torch.Tensor:
        """q [W, 1, H, D]; k, v [W, 1, Hkv, D] -> [W, 1, H, D]."""
        t = self._per_device[q.device]
        own = t["numbers"][0]
        keys, values = self.slots.keys[layer], self.slots.values[layer]
        keys[t["rows"], :, own] = k[:, 0]
        values[t["rows"], :, own] = v[:, 0]
        W, _, H, D = q.shape
        Hkv = keys.shape[1]
        qg = q.view(W, Hkv, H // Hkv, D).float()  # the group's query heads share one KV head
        L = self.keys
        scores = qg @ keys[:W, :, :L].float().transpose(-1, -2) * scale  # [W, Hkv, G, L]
        visible = t["key_index"][None, :] <= own[:, None]  # [W, L]
        scores = scores.masked_fill(~visible[:, None, None, :], float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)  # [W, Hkv, G]
        out = torch.softmax(scores, dim=-1) @ values[:W, :, :L].float()  # [W, Hkv, G, D]
        for p, prefix in enumerate(self.prefixes):
            pk = prefix.cache.keys[layer][:, :, : prefix.length]
            pv = prefix.cache.values[layer][:, :, : prefix.length]
            if self.static:
                # every row folded into the query length, [1, Hkv, W*G, D] against the prefix's
                # [1, Hkv, P, D] (no copy of it); rows that do not read this prefix get no weight
                out_p, lse_p = self._attend_prefix(qg, pk, pv, q.dtype, scale)
                lse_p = lse_p.masked_fill(t["numbers"][2 + p][:, None, None] == 0, float("-inf"))
                out, lse = merge_by_lse(out, lse, out_p, lse_p)
            else:
                rows = t["members"][p]
                out_p, lse_p = self._attend_prefix(qg[rows], pk, pv, q.dtype, scale)
                out[rows], lse[rows] = merge_by_lse(out[rows], lse[rows], out_p, lse_p)
        return out.to(q.dtype).reshape(W, 1, H, D)

    @staticmethod
    def _attend_prefix(qg, pk, pv, dtype, scale):
        """Rows' grouped queries qg [n, Hkv, G, D] against one prefix's keys and values
        [1, Hkv, P, D], the rows folded into the query length. -> out [n, Hkv, G, D], lse [n, Hkv, G]."""
        n, Hkv, _, D = qg.shape
        qp = qg.transpose(0, 1).reshape(1, Hkv, -1, D).to(dtype)
        out_p, lse_p = attend_with_lse(qp, pk, pv, False, scale)  # [1, Hkv, n*G, D], [1, Hkv, n*G]
        out_p = out_p.reshape(Hkv, n, -1, D).transpose(0, 1)
        return out_p.float(), lse_p.reshape(Hkv, n, -1).transpose(0, 1)
