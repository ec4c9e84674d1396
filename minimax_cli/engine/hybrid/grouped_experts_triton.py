"""The Triton kernels of grouped_experts.py and int8_matmul.py (imported only when a GPU runs them):
the gate and up projections with SiLU, then the down projection weighted by the router, each over
blocks of (token, expert) pairs of one expert; and the weight-only int8 matmul of a few rows.

Two ways to multiply, picked by BLOCK_M:
- BLOCK_M >= 16 (tl.dot's least): a block of pairs against a [BLOCK_N, BLOCK_K] weight tile on
  the tensor cores, the weight converted to the activations' dtype;
- BLOCK_M == 1, one pair (or row) a program: an fp32 multiply-add per weight, no tensor cores. A
  decode row's pair reads its expert alone, and a 16-row tl.dot would convert and multiply 16
  times the weights it needs, through shared memory; here each weight byte is converted in
  registers (`widen`) and used once, so the loop keeps pace with memory.
"""

import os

import triton
import triton.language as tl


def config(n, k, warps, stages, **block_m):
    return triton.Config({**block_m, "BLOCK_N": n, "BLOCK_K": k}, num_warps=warps, num_stages=stages)


# one pair a program: narrow column tiles (many programs for 132 SMs), long k tiles (16-byte loads,
# many in flight: Triton's pipelining leaves out loads that feed no tl.dot)
ONE_PAIR = [config(*shape) for shape in [(16, 256, 4, 1), (16, 512, 4, 1), (16, 1024, 4, 1), (32, 256, 4, 1),
                                         (32, 512, 4, 1), (32, 1024, 8, 1), (8, 1024, 4, 1), (8, 2048, 4, 1),
                                         (16, 2048, 8, 1), (64, 256, 4, 1)]]
BLOCKS = [config(*shape) for shape in [(32, 256, 4, 3), (64, 128, 4, 4), (64, 256, 4, 3), (128, 128, 8, 3),
                                       (32, 128, 4, 5), (16, 512, 4, 3), (16, 256, 4, 5), (32, 512, 8, 3)]]


def by_block_m(configs, named_args, **kwargs):
    """Autotuner pruning: the configs for the launch's way to multiply."""
    return ONE_PAIR if kwargs["BLOCK_M"] == 1 else BLOCKS


# int8 -> fp32, four bytes at a time: each byte, offset to unsigned by one xor, becomes the low
# mantissa byte of 2^23 (a byte permute) and 2^23 + 128 comes off (exact). Two full-rate ops a
# weight, where cvt.f32.s8 issues at 16 a clock per SM against 128 fp32 ops (NVIDIA's throughput
# table) and, at one row, would hold the loop below memory speed.
INT8_TO_FP32 = tl.constexpr("""{
.reg .b32 u;
xor.b32 u, $4, 0x80808080;
prmt.b32 $0, u, 0x4B000000, 0x7540;
prmt.b32 $1, u, 0x4B000000, 0x7541;
prmt.b32 $2, u, 0x4B000000, 0x7542;
prmt.b32 $3, u, 0x4B000000, 0x7543;
sub.f32 $0, $0, 0f4B000080;
sub.f32 $1, $1, 0f4B000080;
sub.f32 $2, $2, 0f4B000080;
sub.f32 $3, $3, 0f4B000080;
}""")
PTX = tl.constexpr(os.environ.get("TRITON_INTERPRET", "0") != "1")  # the interpreter runs no PTX


@triton.jit
def widen(w, INT8: tl.constexpr):
    """Weights as fp32 (int8 ones unscaled)."""
    if INT8 and PTX:
        return tl.inline_asm_elementwise(INT8_TO_FP32, "=r,=r,=r,=r,r", [w], dtype=tl.float32, is_pure=True,
                                         pack=4)
    else:
        return w.to(tl.float32)


@triton.jit
def mac(acc, x, w, INT8: tl.constexpr, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr):
    """acc + x @ w^T for acc [BLOCK_M, BLOCK_N], x [BLOCK_M, BLOCK_K], w [BLOCK_N, BLOCK_K]."""
    if BLOCK_M == 1:
        return acc + tl.sum(widen(w, INT8) * x.to(tl.float32), 1)[None, :]
    else:
        return acc + tl.dot(x, tl.trans(w.to(x.dtype)), input_precision=PRECISION)


@triton.jit
def block_pairs(block_expert_ptr, ids_ptr, pairs, BLOCK_M: tl.constexpr):
    """This program's block: its expert (E or more: an unused block), its pair ids, which are real.
    One pair a block: the block is the pair, in pair order, and its expert the pair's choice."""
    block = tl.program_id(0)
    if BLOCK_M == 1:
        ids = block + tl.arange(0, 1)
    else:
        ids = tl.load(ids_ptr + block * BLOCK_M + tl.arange(0, BLOCK_M))
    return tl.load(block_expert_ptr + block), ids, ids < pairs


@triton.jit
def tile_columns(N, BLOCK_N: tl.constexpr):
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    return cols, cols < N


@triton.autotune(configs=ONE_PAIR + BLOCKS, key=["N", "K", "BLOCK_M", "INT8", "PRECISION"],
                 prune_configs_by={"early_config_prune": by_block_m})
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
        acc1 = mac(acc1, x, tl.load(w1_rows + ks[None, :], mask=w_ok, other=0), INT8, PRECISION, BLOCK_M)
        acc3 = mac(acc3, x, tl.load(w3_rows + ks[None, :], mask=w_ok, other=0), INT8, PRECISION, BLOCK_M)
    if INT8:  # the scales once, after the loop
        acc1 *= tl.load(s1_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
        acc3 *= tl.load(s3_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    h = acc1 * tl.sigmoid(acc1) * acc3
    tl.store(h_ptr + ids[:, None] * stride_h + cols[None, :], h.to(h_ptr.dtype.element_ty),
             mask=valid[:, None] & col_ok[None, :])


@triton.autotune(configs=ONE_PAIR + BLOCKS, key=["N", "K", "BLOCK_M", "INT8", "PRECISION"],
                 prune_configs_by={"early_config_prune": by_block_m})
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
        acc = mac(acc, h, w, INT8, PRECISION, BLOCK_M)
    if INT8:
        acc *= tl.load(s2_ptr + e * stride_se + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    acc *= tl.load(route_ptr + ids, mask=valid, other=0.0)[:, None]
    tl.store(y_ptr + ids[:, None] * stride_y + cols[None, :], acc, mask=valid[:, None] & col_ok[None, :])


# the same two ways for int8_matmul, BLOCK_M tuned too; row blocks whose pipeline stages fit in shared memory
ONE_ROW = [config(*shape, BLOCK_M=1) for shape in [(16, 256, 4, 1), (16, 512, 4, 1), (16, 1024, 4, 1), (32, 512, 4, 1),
                                                  (8, 512, 4, 1), (8, 1024, 4, 1), (8, 2048, 4, 1), (4, 2048, 4, 1)]]
ROW_BLOCKS = [config(n, k, warps, stages, BLOCK_M=m) for m in (16, 32, 64)
              for n, k, warps, stages in [(64, 256, 4, 3), (64, 256, 4, 5), (32, 512, 4, 3), (128, 128, 8, 3),
                                          (32, 256, 4, 4), (128, 64, 8, 4), (16, 512, 4, 4)]
              if (2 * m + n) * k * stages <= 200 << 10]


def by_rows(configs, named_args, **kwargs):
    """Autotuner pruning: one-row configs for one row, else row blocks no taller than the rows."""
    rows = named_args["ROWS"]
    return ONE_ROW if rows == 1 else [c for c in ROW_BLOCKS if c.kwargs["BLOCK_M"] <= rows]


@triton.autotune(configs=ONE_ROW + ROW_BLOCKS, key=["N", "K", "ROWS"], prune_configs_by={"early_config_prune": by_rows})
@triton.jit
def int8_matmul(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_ym, ROWS,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # row blocks vary fastest, so the programs that share a weight tile run together and
    # all but the first find it in L2
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        ks = k + tl.arange(0, BLOCK_K)
        k_ok = ks < K
        x = tl.load(x_ptr + rows[:, None] * stride_xm + ks[None, :], mask=(rows[:, None] < M) & k_ok[None, :],
                    other=0.0)
        w = tl.load(w_ptr + cols[:, None] * stride_wn + ks[None, :], mask=(cols[:, None] < N) & k_ok[None, :],
                    other=0)
        acc = mac(acc, x, w, True, "tf32", BLOCK_M)
    y = acc * tl.load(s_ptr + cols, mask=cols < N, other=0.0).to(tl.float32)[None, :]  # the scale once, at the end
    tl.store(y_ptr + rows[:, None] * stride_ym + cols[None, :], y.to(y_ptr.dtype.element_ty),
             mask=(rows[:, None] < M) & (cols[None, :] < N))
