"""Weight-only int8 matmul for a few rows (decode): y = (x @ W^T) * scale, reading W as int8.

optimum-quanto's int8 linear dequantizes the whole weight to bf16 on every call and then runs a
bf16 matmul: fine for 32K-token prefill chunks (measured 1.03x bf16 on an H100), but for one
decoded token it writes and re-reads 2 bytes per weight where 1 would do (measured 0.54x bf16
decode speed). This kernel reads each int8 weight once, converts it in registers, accumulates in
fp32 and applies the per-row scale at the end. One row (a decode step of one sequence) takes no
tensor cores: each weight is converted and multiplied once (grouped_experts_triton.py).

Shapes: x [M, K] bf16/fp16 (M <= 256), w [N, K] int8, scale [N] (any float dtype) -> y [M, N].
`int8_matmul_reference` is the same computation in plain torch (tests and CPU); the kernel is in
grouped_experts_triton.py, beside the expert kernels whose multiply-add it shares.
"""

from __future__ import annotations

import torch

MAX_ROWS = 256  # decode batches; larger inputs (prefill) dequantize once and run a bf16 matmul


def int8_matmul_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (x.float() @ w.float().t() * scale.float().view(1, -1)).to(x.dtype)


_kernel = None


def _build_kernel():
    from minimax_cli.engine.hybrid.grouped_experts_triton import int8_matmul as kernel  # lazy: needs triton

    return kernel


def int8_matmul(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Triton kernel on CUDA for M <= MAX_ROWS rows; the reference otherwise. One row alone, or
    rows in blocks of 16 to 64 (tl.dot's least is 16), tuned per power of two of M."""
    global _kernel
    M, K = x.shape
    N = w.shape[0]
    if not (x.is_cuda and M <= MAX_ROWS):
        return int8_matmul_reference(x, w, scale)
    if _kernel is None:
        _kernel = _build_kernel()
    x = x.contiguous()
    # no split-K: narrow column tiles give the programs, and the output needs no zeroing before
    # nor an fp32 -> x.dtype pass after (two launches a linear, a few microseconds each)
    y = torch.empty(M, N, device=x.device, dtype=x.dtype)
    rows = 1 if M == 1 else max(16, 1 << (M - 1).bit_length())  # the tuning key: one tuning per bucket

    def grid(meta):
        return (triton_cdiv(M, meta["BLOCK_M"]), triton_cdiv(N, meta["BLOCK_N"]))

    _kernel[grid](x, w, scale, y, M, N, K, x.stride(0), w.stride(0), y.stride(0), rows)
    return y


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)
