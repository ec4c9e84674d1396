"""Weight-only int8 matmul for a few rows (decode): y = (x @ W^T) * scale, reading W as int8.

optimum-quanto's int8 linear dequantizes the whole weight to bf16 on every call and then runs a
bf16 matmul: fine for 32K-token prefill chunks (measured 1.03x bf16 on an H100), but for one
decoded token it writes and re-reads 2 bytes per weight where 1 would do (measured 0.54x bf16
decode speed). This kernel reads each int8 weight once, converts it in registers, accumulates in
fp32 and applies the per-row scale at the end.

Shapes: x [M, K] bf16/fp16 (M <= 256), w [N, K] int8, scale [N] (any float dtype) -> y [M, N].
`int8_matmul_reference` is the same computation in plain torch (tests and CPU).
"""

from __future__ import annotations

import torch

MAX_ROWS = 256  # decode batches; larger inputs (prefill) dequantize once and run a bf16 matmul


def int8_matmul_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (x.float() @ w.float().t() * scale.float().view(1, -1)).to(x.dtype)


_kernel = None


def _build_kernel():
    import triton
    import triton.language as tl

    shapes = [(64, 256, 1, 4, 3), (64, 256, 1, 4, 5), (32, 512, 1, 4, 3), (128, 128, 1, 8, 3),
              (32, 256, 2, 4, 3), (128, 64, 1, 8, 4), (16, 512, 1, 4, 4)]
    configs = [triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "SPLIT_K": split},
                             num_warps=warps, num_stages=stages)
               for m in (16, 32, 64) for n, k, split, warps, stages in shapes]

    @triton.autotune(configs=configs, key=["N", "K", "ROWS"], reset_to_zero=["y_ptr"])
    @triton.jit
    def kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_ym, ROWS,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr):
        # row blocks vary fastest, so the programs that share a weight tile run together and
        # all but the first find it in L2
        rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        pid_n = tl.program_id(1)
        pid_k = tl.program_id(2)
        cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
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
    """Triton kernel on CUDA for M <= MAX_ROWS rows; the reference otherwise. Rows go in blocks of
    16 to 64 (tl.dot's least is 16), tuned per power of two of M."""
    global _kernel
    M, K = x.shape
    N = w.shape[0]
    if not (x.is_cuda and M <= MAX_ROWS):
        return int8_matmul_reference(x, w, scale)
    if _kernel is None:
        _kernel = _build_kernel()
    x = x.contiguous()
    y = torch.zeros(M, N, device=x.device, dtype=torch.float32)  # fp32: split-K adds into it

    rows = max(16, 1 << (M - 1).bit_length())  # the tuning key: one tuning per bucket of M

    def grid(meta):
        return (triton_cdiv(M, meta["BLOCK_M"]), triton_cdiv(N, meta["BLOCK_N"]), meta["SPLIT_K"])

    _kernel[grid](x, w, scale, y, M, N, K, x.stride(0), w.stride(0), y.stride(0), rows)
    return y.to(x.dtype)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)
