"""Weight-only int8 matmul for a few rows (decode): y = (x @ W^T) * scale, reading W as int8.

optimum-quanto's int8 linear dequantizes the whole weight to bf16 on every call and then runs a
bf16 matmul: fine for 32K-token prefill chunks (measured 1.03x bf16 on an H100), but for one
decoded token it writes and re-reads 2 bytes per weight where 1 would do (measured 0.54x bf16
decode speed). This kernel reads each int8 weight once, converts it in registers, accumulates in
fp32 and applies the per-row scale at the end.

Shapes: x [M, K] bf16/fp16 (M <= 16), w [N, K] int8, scale [N] (any float dtype) -> y [M, N].
`int8_matmul_reference` is the same computation in plain torch (tests and CPU).
"""

from __future__ import annotations

import torch

MAX_ROWS = 16  # tl.dot needs 16 rows; decode has 1, a small batch of decodes up to 16


def int8_matmul_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (x.float() @ w.float().t() * scale.float().view(1, -1)).to(x.dtype)


_kernel = None


def _build_kernel():
    import triton
    import triton.language as tl

    @triton.autotune(
        configs=[
            triton.Config({"BLOCK_N": 64, "BLOCK_K": 256, "SPLIT_K": 1}, num_warps=4),
            triton.Config({"BLOCK_N": 32, "BLOCK_K": 256, "SPLIT_K": 2}, num_warps=4),
            triton.Config({"BLOCK_N": 64, "BLOCK_K": 128, "SPLIT_K": 2}, num_warps=4),
            triton.Config({"BLOCK_N": 128, "BLOCK_K": 128, "SPLIT_K": 1}, num_warps=8),
            triton.Config({"BLOCK_N": 32, "BLOCK_K": 512, "SPLIT_K": 4}, num_warps=4),
        ],
        key=["N", "K"],
        reset_to_zero=["y_ptr"],
    )
    @triton.jit
    def kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_ym,
               BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr):
        pid_n = tl.program_id(0)
        pid_k = tl.program_id(1)
        rows = tl.arange(0, 16)
        cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
        k_per_split = tl.cdiv(K, SPLIT_K)
        k_start = pid_k * k_per_split
        for k in range(k_start, k_start + k_per_split, BLOCK_K):
            ks = k + tl.arange(0, BLOCK_K)
            k_ok = (ks < K) & (ks < k_start + k_per_split)
            x = tl.load(x_ptr + rows[:, None] * stride_xm + ks[None, :],
                        mask=(rows[:, None] < M) & k_ok[None, :], other=0.0)
            w = tl.load(w_ptr + cols[:, None] * stride_wn + ks[None, :],
                        mask=(cols[:, None] < N) & k_ok[None, :], other=0)
            acc += tl.dot(x, tl.trans(w.to(x.dtype)))
        scale = tl.load(s_ptr + cols, mask=cols < N, other=0.0).to(tl.float32)
        acc = acc * scale[None, :]
        out = y_ptr + rows[:, None] * stride_ym + cols[None, :]
        ok = (rows[:, None] < M) & (cols[None, :] < N)
        if SPLIT_K == 1:
            tl.store(out, acc, mask=ok)
        else:
            tl.atomic_add(out, acc, mask=ok)

    return kernel


def int8_matmul(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Triton kernel on CUDA for M <= 16 rows; the reference otherwise."""
    global _kernel
    M, K = x.shape
    N = w.shape[0]
    if not (x.is_cuda and M <= MAX_ROWS):
        return int8_matmul_reference(x, w, scale)
    if _kernel is None:
        _kernel = _build_kernel()
    x = x.contiguous()
    y = torch.zeros(M, N, device=x.device, dtype=torch.float32)  # fp32: split-K adds into it

    def grid(meta):
        return (triton_cdiv(N, meta["BLOCK_N"]), meta["SPLIT_K"])

    _kernel[grid](x, w, scale, y, M, N, K, x.stride(0), w.stride(0), y.stride(0))
    return y.to(x.dtype)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)
