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
part attends every row of a group to its shared keys with the rows folded into the query length
(no copy of the prefix), and the two are merged by their log-sum-exps.

Shapes: R slots, B active rows, H query heads, Hkv KV heads, D head dim, L own-KV length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.engine.hybrid.attention import attend_with_lse, merge_by_lse
from minimax_cli.engine.hybrid.cache import HybridCache
from minimax_cli.engine.hybrid.config import HybridConfig


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
        self.reserve(slot + 1, own + 1)
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

    def view(self) -> "DecodeView":
        return DecodeView(self)

    def advance(self) -> None:
        """After a decode step: each active row holds one more token."""
        for row in self.rows[: self.active]:
            row.own += 1


class DecodeView:
    """The active rows of a `SlotCache` as the model's cache for one decode step (T == 1)."""

    def __init__(self, slots: SlotCache):
        self.slots = slots
        rows = slots.rows[: slots.active]
        self.B = len(rows)
        self._own = [r.own for r in rows]
        self._positions = [r.base + r.own for r in rows]
        self._longest = max(self._own) + 1
        groups: dict[int, tuple[SharedPrefix, list[int]]] = {}
        for b, r in enumerate(rows):
            if r.prefix is not None:
                groups.setdefault(id(r.prefix), (r.prefix, []))[1].append(b)
        self._groups = list(groups.values())
        self._per_device: dict[torch.device, dict] = {}
        slots.reserve(self.B, self._longest)

    def _on(self, device: torch.device) -> dict:
        """Index tensors for this step, made once per device."""
        if device not in self._per_device:
            own = torch.tensor(self._own, device=device)
            self._per_device[device] = {
                "rows": torch.arange(self.B, device=device),
                "own": own,
                "positions": torch.tensor(self._positions, device=device)[:, None],  # [B, 1]
                "visible": torch.arange(self._longest, device=device)[None, :] <= own[:, None],  # [B, L]
                "groups": [(p, torch.tensor(rows, device=device)) for p, rows in self._groups],
            }
        return self._per_device[device]

    def positions(self, start, tokens: int, device: torch.device) -> torch.Tensor:
        return self._on(device)["positions"]

    def lightning_state(self, layer: int) -> torch.Tensor:
        return self.slots.states[layer][: self.B]

    def set_lightning_state(self, layer: int, state: torch.Tensor) -> None:
        self.slots.states[layer][: self.B] = state

    def attend(self, layer: int, q, k, v, start, scale: float) -> torch.Tensor:
        """q [B, 1, H, D]; k, v [B, 1, Hkv, D] -> [B, 1, H, D]."""
        ix = self._on(q.device)
        keys, values = self.slots.keys[layer], self.slots.values[layer]
        keys[ix["rows"], :, ix["own"]] = k[:, 0]
        values[ix["rows"], :, ix["own"]] = v[:, 0]
        B, _, H, D = q.shape
        Hkv = keys.shape[1]
        qg = q.view(B, Hkv, H // Hkv, D).float()  # the group's query heads share one KV head
        L = self._longest
        scores = qg @ keys[:B, :, :L].float().transpose(-1, -2) * scale  # [B, Hkv, G, L]
        scores = scores.masked_fill(~ix["visible"][:, None, None, :], float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)  # [B, Hkv, G]
        out = torch.softmax(scores, dim=-1) @ values[:B, :, :L].float()  # [B, Hkv, G, D]
        for prefix, rows in ix["groups"]:
            n = len(rows)
            # the group's rows folded into the query length: [1, Hkv, n*G, D] against [1, Hkv, P, D]
            qp = qg[rows].transpose(0, 1).reshape(1, Hkv, -1, D).to(q.dtype)
            pk = prefix.cache.keys[layer][:, :, : prefix.length]
            pv = prefix.cache.values[layer][:, :, : prefix.length]
            out_p, lse_p = attend_with_lse(qp, pk, pv, False, scale)  # [1, Hkv, n*G, D], [1, Hkv, n*G]
            out_p = out_p.reshape(Hkv, n, -1, D).transpose(0, 1)  # [n, Hkv, G, D]
            lse_p = lse_p.reshape(Hkv, n, -1).transpose(0, 1)
            out[rows], lse[rows] = merge_by_lse(out[rows], lse[rows], out_p.float(), lse_p)
        return out.to(q.dtype).reshape(B, 1, H, D)
