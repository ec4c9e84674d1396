"""Softmax attention for a chunk of queries against every earlier key, without a q x kv mask.

A chunk of T queries at positions [P, P+T) attends to keys [0, P+T) with bottom-right causal
alignment. Torch's `is_causal` is top-left aligned, and an explicit mask would be T x (P+T)
(32K x 1M booleans = 32 GB), so the work is split in two parts that need no mask at all:

    prefix  queries x keys [0, P)      every key visible: plain attention
    square  queries x keys [P, P+T)    a square, where top-left causal == bottom-right causal

and merged exactly by their log-sum-exps. The prefix part needs no copy of K/V for grouped-query
attention: the G query heads of one KV head are folded into the query length.

Shapes: q [B, T, Hq, D]; keys/values [B, Hkv, S, D] (the cache layout).
"""

from __future__ import annotations

import torch


def attend_reference(q, k, v, start: int, scale: float):
    """Materialises the scores and a bottom-right causal mask. Tests only (small sizes)."""
    B, T, Hq, D = q.shape
    group = Hq // k.shape[1]
    k = k.repeat_interleave(group, dim=1).float()  # [B, Hq, S, D]
    v = v.repeat_interleave(group, dim=1).float()
    scores = q.float().transpose(1, 2) @ k.transpose(-1, -2) * scale  # [B, Hq, T, S]
    qpos = start + torch.arange(T, device=q.device)[:, None]
    kpos = torch.arange(k.shape[2], device=q.device)[None, :]
    scores = scores.masked_fill(kpos > qpos, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2).to(q.dtype)  # [B, T, Hq, D]


_cudnn_ok: bool | None = None  # cuDNN's fused attention: tried once, kept if it works here
CUDNN_MIN_QUERIES = 4096  # cuDNN builds an execution plan per new shape: worth it only for big chunks


def attend_with_lse(q, k, v, causal: bool, scale: float):
    """out [B, H, T, D], lse [B, H, T] fp32; q/k/v [B, H, *, D] with equal head counts.

    On GPUs the unmasked prefix part of a large chunk goes to cuDNN's fused attention (measured
    564 vs 309 TFLOP/s for flash attention on a 32K chunk against a 1M prefix, H100). cuDNN plans
    each new shape once, which costs milliseconds: small chunks and decode steps, whose key length
    changes every call, go to flash attention, as do the causal square and any cuDNN failure."""
    global _cudnn_ok
    if q.is_cuda:
        if q.dtype in (torch.float16, torch.bfloat16):
            if not causal and q.shape[2] >= CUDNN_MIN_QUERIES and _cudnn_ok is not False:
                try:
                    out, lse = torch.ops.aten._scaled_dot_product_cudnn_attention(
                        q, k, v, None, True, 0.0, False, False, scale=scale)[:2]
                    _cudnn_ok = True
                    return out, lse.reshape(q.shape[:3]).float()
                except RuntimeError:
                    _cudnn_ok = False
            out, lse = torch.ops.aten._scaled_dot_product_flash_attention(
                q, k, v, 0.0, causal, False, scale=scale)[:2]
        else:
            out, lse = torch.ops.aten._scaled_dot_product_efficient_attention(
                q, k, v, None, True, 0.0, causal, scale=scale)[:2]
        return out, lse[..., : q.shape[2]].float()
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q, k, v, 0.0, causal, scale=scale)[:2]
    return out, lse.float()


def attend_chunk(q, keys, values, start: int, scale: float):
    """Queries at positions [start, start+T) against keys [0, start+T) of the cache.

    q [B, T, Hq, D]; keys/values [B, Hkv, >= start+T, D]. Returns [B, T, Hq, D].
    """
    B, T, Hq, D = q.shape
    Hkv = keys.shape[1]
    group = Hq // Hkv
    qh = q.transpose(1, 2)  # [B, Hq, T, D]

    # square part: the chunk's own keys, causal; K/V repeated per query head (T keys only)
    k_sq = keys[:, :, start:start + T].repeat_interleave(group, dim=1)
    v_sq = values[:, :, start:start + T].repeat_interleave(group, dim=1)
    out, lse = attend_with_lse(qh.contiguous(), k_sq, v_sq, True, scale)  # [B, Hq, T, D], [B, Hq, T]
    if start == 0:
        return out.transpose(1, 2)

    # prefix part: fold the group into the query length, [B, Hkv, G*T, D], no K/V copy
    q_grouped = qh.reshape(B, Hkv, group * T, D)
    out_p, lse_p = attend_with_lse(
        q_grouped, keys[:, :, :start], values[:, :, :start], False, scale)
    out_p = out_p.reshape(B, Hq, T, D)
    lse_p = lse_p.reshape(B, Hq, T)

    merged, _ = merge_by_lse(out.float(), lse, out_p.float(), lse_p)
    return merged.to(q.dtype).transpose(1, 2)


def merge_by_lse(out_a, lse_a, out_b, lse_b):
    """Attention over the union of two disjoint key sets from each set's output [..., D] and
    log-sum-exp [...]: each part weighted by its share of the softmax mass. fp32 in, fp32 out."""
    lse = torch.logaddexp(lse_a, lse_b)
    merged = out_a * torch.exp(lse_a - lse).unsqueeze(-1) + out_b * torch.exp(lse_b - lse).unsqueeze(-1)
    return merged, lse
