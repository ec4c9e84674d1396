"""The experts of a decode batch in two Triton launches, without the host learning the groups.

SparseMoE's sum for N tokens with k experts each,
    y_n = sum_j w_nj * W2_e(silu(W1_e x_n) * W3_e x_n),   e = chosen[n, j],
laid out as vLLM's fused MoE lays it out: the N*k (token, slot) pairs are sorted by expert on the
device and cut into blocks of BLOCK_M pairs of one expert, each expert's last block padded with a
sentinel. The grid is the most blocks there can be (N*k // BLOCK_M + E); a block past the last
used one returns at once. Nothing about the launch depends on the routing, so a decode step that
runs it can be captured in a CUDA graph, and no step waits for the host to learn group sizes.
Each block reads its expert's weights once. While there are no more pairs than experts (a decode
row or a few), a block is one pair, nothing is sorted, and the multiply skips the tensor cores
(grouped_experts_triton.py says why).

Weights are the stacked [E, out, in] tensors of `SparseMoE.stack_experts`: bf16, or int8 with a
scale per output row (weight-only int8: each weight read as one byte and converted in registers,
fp32 accumulation), so int8 reads half the bytes of bf16 at any batch size.

Shapes: x [N, C]; chosen, weights [N, k]; w1, w3 [E, I, C]; w2 [E, C, I]; scales [E, I], [E, I],
[E, C] or None. `experts_reference` is the same sum in plain torch, pair by pair (tests); the
kernels are in grouped_experts_triton.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minimax_cli.engine.hybrid.int8_matmul import triton_cdiv

MAX_TOKENS = 256  # decode batches; prefill chunks take the grouped torch path


def experts_reference(x, chosen, weights, stacked, scales=None) -> torch.Tensor:
    """fp32 [N, C]: each (token, expert) pair through that expert in fp32, weighted and summed."""
    w1, w3, w2 = (w.float() for w in stacked)
    if scales is not None:
        w1, w3, w2 = (w * s.float()[..., None] for w, s in zip((w1, w3, w2), scales))
    out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    for n in range(x.shape[0]):
        for j in range(chosen.shape[1]):
            e = int(chosen[n, j])
            xn = x[n].float()
            h = F.silu(w1[e] @ xn) * (w3[e] @ xn)
            out[n] += weights[n, j].float() * (w2[e] @ h)
    return out


def block_size(tokens: int, top_k: int, experts: int) -> int:
    """Pairs per block: one while there are no more pairs than experts (a decode row or a few:
    each pair its own program, no tensor cores, nothing sorted); then 16 (tl.dot's least) while an
    expert gets few pairs, more as they grow, so an expert's weights are read about once however
    many of the batch's rows chose it."""
    per_expert = tokens * top_k / experts
    return 1 if per_expert <= 1 else 16 if per_expert <= 16 else 32 if per_expert <= 32 else 64


def align(chosen: torch.Tensor, experts: int, block_m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair ids sorted by expert in blocks of `block_m` ([blocks * block_m], the sentinel N*k in
    padding) and each block's expert ([blocks], `experts` for unused blocks). Device ops only.
    One pair a block: the pairs in their own order, each its own block (no launch at all; the
    kernels read no ids then)."""
    flat = chosen.reshape(-1)
    if block_m == 1:
        return flat, flat
    pairs = flat.numel()
    blocks = pairs // block_m + experts
    ones = torch.ones_like(flat)
    counts = torch.zeros(experts, dtype=flat.dtype, device=flat.device).scatter_add_(0, flat, ones)
    expert_blocks = (counts + block_m - 1) // block_m
    block_end = expert_blocks.cumsum(0)  # [E]
    order = torch.argsort(flat, stable=True)  # pairs by expert
    by_expert = flat[order]
    rank = torch.arange(pairs, device=flat.device) - (counts.cumsum(0) - counts)[by_expert]
    dest = (block_end - expert_blocks)[by_expert] * block_m + rank
    ids = torch.full((blocks * block_m,), pairs, dtype=torch.int32, device=flat.device)
    ids[dest] = order.to(torch.int32)
    block_expert = torch.searchsorted(block_end, torch.arange(blocks, device=flat.device), right=True)
    return ids, block_expert.to(torch.int32)


_kernels = None


def _build_kernels():
    from minimax_cli.engine.hybrid import grouped_experts_triton as kernels  # lazy: needs triton

    return kernels.gate_up, kernels.down


def grouped_experts(x, chosen, weights, stacked, scales=None) -> torch.Tensor:
    """fp32 [N, C]: the experts' weighted sum for each token (the Triton kernels; CUDA only)."""
    global _kernels
    if _kernels is None:
        _kernels = _build_kernels()
    gate_up, down = _kernels
    w1, w3, w2 = stacked
    E, inter, hidden = w1.shape
    N, top_k = chosen.shape
    pairs = N * top_k
    block_m = block_size(N, top_k, E)
    ids, block_expert = align(chosen, E, block_m)
    blocks = block_expert.numel()
    int8 = scales is not None
    precision = "ieee" if x.dtype == torch.float32 else "tf32"  # fp32 models (tests) stay fp32
    s1, s3, s2 = scales if int8 else (w1, w3, w2)  # unread placeholders when not int8
    x = x.contiguous()
    h = torch.empty(pairs, inter, dtype=x.dtype, device=x.device)
    gate_up[lambda meta: (blocks, triton_cdiv(inter, meta["BLOCK_N"]))](
        x, w1, w3, s1, s3, h, ids, block_expert, pairs, top_k, E, inter, hidden, x.stride(0), w1.stride(0),
        w1.stride(1), s1.stride(0), h.stride(0), INT8=int8, PRECISION=precision, BLOCK_M=block_m)
    y = torch.empty(pairs, hidden, dtype=torch.float32, device=x.device)
    route = weights.reshape(-1).float().contiguous()
    down[lambda meta: (blocks, triton_cdiv(hidden, meta["BLOCK_N"]))](
        h, w2, s2, y, route, ids, block_expert, pairs, E, hidden, inter, h.stride(0), w2.stride(0),
        w2.stride(1), s2.stride(0), y.stride(0), INT8=int8, PRECISION=precision, BLOCK_M=block_m)
    return y.view(N, top_k, hidden).sum(1)
