"""The hybrid model's running state: an fp32 lightning state per lightning layer and a
preallocated KV cache per softmax layer, plus the number of tokens seen.

Unlike transformers' `MiniMaxCache`, the length is the cache's own counter, not a question asked
of layer 0 (a lightning layer in the real layout, which has no KV and reported 0: the root of the
chunked-prefill bug described in docs/runtime.md).

A snapshot records the lightning states (copied: 64 x 128 x 128 fp32 = 4 MiB per layer at real
width) and the length. KV is append-only below the length, so restoring a snapshot only resets
the length: several prompts over one document pay its prefill once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.engine.hybrid.attention import attend_chunk
from minimax_cli.engine.hybrid.config import HybridConfig


@dataclass
class CacheSnapshot:
    length: int
    states: dict[int, torch.Tensor]


class HybridCache:
    def __init__(self, config: HybridConfig, devices: list[torch.device], dtype: torch.dtype,
                 capacity: int = 4096, batch: int = 1):
        """`devices[i]` is where layer i lives; KV in `dtype`, lightning states in fp32."""
        self.config = config
        self.dtype = dtype
        self.batch = batch
        self.length = 0
        self.capacity = 0
        H, D, Hkv = config.num_attention_heads, config.head_dim, config.num_key_value_heads
        self.states: dict[int, torch.Tensor] = {
            i: torch.zeros(batch, H, D, D, dtype=torch.float32, device=devices[i])
            for i in config.lightning_layers
        }
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}
        self._kv_shape = (batch, Hkv, 0, D)
        self._devices = devices
        self.reserve(capacity)

    def reserve(self, tokens: int) -> None:
        """Make room for `tokens` tokens in total; grows by doubling, copying what is cached."""
        if tokens <= self.capacity:
            return
        new_capacity = max(tokens, 2 * self.capacity)
        B, Hkv, _, D = self._kv_shape
        for i in self.config.softmax_layers:
            for store in (self.keys, self.values):
                grown = torch.empty(B, Hkv, new_capacity, D, dtype=self.dtype, device=self._devices[i])
                if i in store and self.length:
                    grown[:, :, : self.length] = store[i][:, :, : self.length]
                store[i] = grown
        self.capacity = new_capacity

    def write_kv(self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """k, v [B, T, Hkv, D] for positions [start, start+T)."""
        T = k.shape[1]
        self.keys[layer][:, :, start:start + T] = k.transpose(1, 2)
        self.values[layer][:, :, start:start + T] = v.transpose(1, 2)

    # What the layers ask of a cache (model.py); a batch of rows at their own positions answers
    # the same questions differently (slots.DecodeView).

    def positions(self, start: int, tokens: int, device: torch.device) -> torch.Tensor:
        return torch.arange(start, start + tokens, device=device)  # [T]

    def attend(self, layer: int, q, k, v, start: int, scale: float) -> torch.Tensor:
        """Store the chunk's k, v [B, T, Hkv, D] at `start`, then attend its queries [B, T, H, D]
        to every key up to their own position."""
        self.write_kv(layer, start, k, v)
        return attend_chunk(q, self.keys[layer], self.values[layer], start, scale=scale)

    def lightning_state(self, layer: int) -> torch.Tensor:
        return self.states[layer]

    def set_lightning_state(self, layer: int, state: torch.Tensor) -> None:
        self.states[layer] = state

    def snapshot(self) -> CacheSnapshot:
        return CacheSnapshot(self.length, {i: s.clone() for i, s in self.states.items()})

    def restore(self, snap: CacheSnapshot) -> None:
        # assigned, not copied in place: states made under inference_mode refuse in-place updates
        self.states = {i: s.clone() for i, s in snap.states.items()}
        self.length = snap.length

    def reset(self) -> None:
        self.states = {i: torch.zeros_like(s) for i, s in self.states.items()}
        self.length = 0

    def nbytes(self) -> int:
        tensors = list(self.states.values()) + list(self.keys.values()) + list(self.values.values())
        return sum(t.numel() * t.element_size() for t in tensors)
