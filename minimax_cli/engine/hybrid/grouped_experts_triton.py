"""The Triton kernels of grouped_experts.py (imported only when a GPU runs them): the gate and up
projections with SiLU, then the down projection weighted by the router, each over blocks of
(token, expert) pairs of one expert."""

import triton
import triton.language as tl

configs = [
    triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=s)
    for n, k, w, s in [(32, 256, 4, 3), (64, 128, 4, 4), (64, 256, 4, 3), (128, 128, 8, 3),
                       (32, 128, 4, 5), (16, 512, 4, 3), (16, 256, 4, 5), (32, 512, 8, 3)]
]


@triton.jit
def block_pairs(block_expert_ptr, ids_ptr, pairs, BLOCK_M: tl.constexpr):
    """This program's block: its expert (E or more: an unused block), its pair ids, which are real."""
    block = tl.program_id(0)
    ids = tl.load(ids_ptr + block * BLOCK_M + tl.arange(0, BLOCK_M))
    return tl.load(block_expert_ptr + block), ids, ids < pairs


@triton.jit
def tile_columns(N, BLOCK_N: tl.constexpr):
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    return cols, cols < N


@triton.autotune(configs=configs, key=["N", "K", "BLOCK_M", "INT8", "PRECISION"])
@triton.jit
def gate_up(x_ptr, w1_ptr, w3_ptr, s1_ptr, s3_ptr, h_ptr, ids_ptr, block_expert_ptr,
            pairs, top_k, E, N, K, stride_x, stride_we, stride_wn, stride_se, stride_h,
            INT8: tl.constexpr, PRECISION: tl.constexpr,
            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    e, ids, valid = block_pairs(block_expert_ptr, ids_ptr, pairs, BLOCK_M)
    if e >= E:
        return
    tokens = ids // top_k
    cols, col_ok = tile_columns(N, BLOCK_N)
    w1_rows = w1_ptr + e.to(tl.int64) * stride_we + cols[:, None] * stride_wn
    w3_rows = w3_ptr + e.to(tl.int64) * stride_we + cols[:, None] * stride_wn
    acc1 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc3 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        x = tl.load(x_ptr + tokens[:, None] * stride_x + ks[None, :],
                    mask=valid[:, None] & k_ok[None, :], other=0.0)
        w_ok = col_ok[:, None] & k_ok[None, :]
        a = tl.load(w1_rows + ks[None, :], mask=w_ok, other=0)
        b = tl.load(w3_rows + ks[None, :], mask=w_ok, other=0)
        acc1 += tl.dot(x, tl.trans(a.to(x.dtype)), input_precision=PRECISION)
        acc3 += tl.dot(x, tl.trans(b.to(x.dtype)), input_precision=PRECISION)
    if INT8:
        acc1 *= tl.load(s1_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
        acc3 *= tl.load(s3_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    h = acc1 * tl.sigmoid(acc1) * acc3
    tl.store(h_ptr + ids[:, None] * stride_h + cols[None, :], h.to(h_ptr.dtype.element_ty),
             mask=valid[:, None] & col_ok[None, :])


@triton.autotune(configs=configs, key=["N", "K", "BLOCK_M", "INT8", "PRECISION"])
@triton.jit
def down(h_ptr, w2_ptr, s2_ptr, y_ptr, route_ptr, ids_ptr, block_expert_ptr,
         pairs, E, N, K, stride_h, stride_we, stride_wn, stride_se, stride_y,
         INT8: tl.constexpr, PRECISION: tl.constexpr,
         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    e, ids, valid = block_pairs(block_expert_ptr, ids_ptr, pairs, BLOCK_M)
    if e >= E:
        return
    cols, col_ok = tile_columns(N, BLOCK_N)
    w_rows = w2_ptr + e.to(tl.int64) * stride_we + cols[:, None] * stride_wn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        h = tl.load(h_ptr + ids[:, None] * stride_h + ks[None, :], mask=valid[:, None] & k_ok[None, :],
                    other=0.0)
        w = tl.load(w_rows + ks[None, :], mask=col_ok[:, None] & k_ok[None, :], other=0)
        acc += tl.dot(h, tl.trans(w.to(h.dtype)), input_precision=PRECISION)
    if INT8:
        acc *= tl.load(s2_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    acc *= tl.load(route_ptr + ids, mask=valid, other=0.0)[:, None]
    tl.store(y_ptr + ids[:, None] * stride_y + cols[None, :], acc, mask=valid[:, None] & col_ok[None, :])
