"""Choosing the next token of many rows at once, on the device, the same batched or alone.

Each row has its own temperature, top-p and seed. The randomness of row r at step t is a hash of
(seed_r, t, token id), not a generator's stream, so a row draws the same token whether it runs
alone or beside others, and no state has to move when rows join or leave a batch.

Sampling is the exponential race: with E_i ~ Exp(1) independent, argmax_i p_i / E_i is token i
with probability p_i (the Gumbel-max trick in another form). Top-p keeps the smallest set of most
likely tokens whose mass reaches p (the most likely token always stays) and races only those.
Temperature 0 is greedy (argmax of the logits).

Shapes: B rows, V vocabulary.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (lowbias32), in int64 arithmetic kept below 2**32 so it is the same
    on every device."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def uniform_noise(seeds: torch.Tensor, steps: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """u in (0, 1) for each (row, token id): seeds, steps [B] int64; ids [B, V] or [V] int64."""
    row = _mix32(_mix32(seeds) ^ (steps * 0x9E3779B9))  # [B]
    bits = _mix32(row[:, None] ^ _mix32(ids + 0x632BE5AB))  # [B, V]
    return (bits.to(torch.float64) + 0.5) / 2.0**32  # never 0 or 1


def sample_tokens(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor,
                  seeds: torch.Tensor, steps: torch.Tensor, *, any_top_p: bool = True) -> torch.Tensor:
    """Next token of each row: logits [B, V] fp32; temperature, top_p [B] float; seeds, steps [B]
    int64. Returns [B] int64. `any_top_p=False` (no row has top_p < 1) skips the sort."""
    greedy = logits.argmax(-1)
    sampled_rows = temperature > 0
    scale = torch.where(sampled_rows, temperature, torch.ones_like(temperature))
    probs = torch.softmax(logits / scale[:, None], dim=-1)  # [B, V]
    vocab = torch.arange(logits.shape[-1], device=logits.device)
    if any_top_p:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)  # [B, V]
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < top_p[:, None]  # the first always stays
        race = sorted_p.double() / -torch.log(uniform_noise(seeds, steps, order))
        race = race.masked_fill(~keep, -1.0)
        picked = order.gather(-1, race.argmax(-1, keepdim=True)).squeeze(-1)
    else:
        race = probs.double() / -torch.log(uniform_noise(seeds, steps, vocab))
        picked = race.argmax(-1)
    return torch.where(sampled_rows, picked, greedy)
