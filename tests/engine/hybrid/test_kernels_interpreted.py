"""Every tuning config of the Triton decode kernels against its torch reference, on the CPU, in
Triton's interpreter (TRITON_INTERPRET=1): the GPU tests see only the config the autotuner picks
on that GPU; these see them all.

Skipped on GPU machines, and unless triton is installed with numpy < 2.3 (the interpreter of triton 3.6 turns
1-element arrays into scalars, which newer numpy refuses):
    pip install triton "numpy<2.3" && pytest tests/engine/hybrid/test_kernels_interpreted.py
"""

import os

import pytest
import torch

if torch.cuda.is_available():  # the interpreter switch is process-wide; GPUs run the real kernels
    pytest.skip("the GPU tests run these kernels on the GPU", allow_module_level=True)
os.environ["TRITON_INTERPRET"] = "1"  # read when triton is imported
triton = pytest.importorskip("triton")
np = pytest.importorskip("numpy")
if tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 3):
    pytest.skip("Triton's interpreter needs numpy < 2.3", allow_module_level=True)

from minimax_cli.engine.hybrid import grouped_experts, int8_matmul, lightning  # noqa: E402
from minimax_cli.engine.hybrid.int8_matmul import triton_cdiv  # noqa: E402


def rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


@pytest.mark.parametrize("M,N,K", [(1, 96, 200), (3, 130, 256), (20, 64, 512), (70, 200, 96), (130, 40, 300)])
def test_int8_matmul_every_config(M, N, K):
    kernel = int8_matmul._build_kernel()
    g = torch.Generator().manual_seed(M)
    x = torch.randn(M, K, generator=g, dtype=torch.float16)
    w = torch.randint(-127, 128, (N, K), generator=g, dtype=torch.int8)
    s = torch.rand(N, generator=g, dtype=torch.float16) * 0.01
    ref = int8_matmul.int8_matmul_reference(x.float(), w, s)
    for config in kernel.configs:  # one-row configs too, at any M: a program per row
        meta = dict(config.kwargs)
        y = torch.zeros(M, N, dtype=x.dtype)
        grid = (triton_cdiv(M, meta["BLOCK_M"]), triton_cdiv(N, meta["BLOCK_N"]))
        kernel.fn[grid](x, w, s, y, M, N, K, x.stride(0), w.stride(0), y.stride(0), 16, **meta)
        assert rel_err(y, ref) < 1e-2, meta


@pytest.mark.parametrize("int8", [False, True])
@pytest.mark.parametrize("tokens,block_m", [(1, 1), (5, 1), (5, 16), (40, 16), (40, 32)])
def test_grouped_experts_every_config(tokens, block_m, int8):
    from minimax_cli.engine.hybrid.grouped_experts_triton import by_block_m

    gate_up, down = grouped_experts._build_kernels()
    E, C, I, k = 4, 64, 96, 2
    g = torch.Generator().manual_seed(tokens)
    x = torch.randn(tokens, C, generator=g)
    weights, chosen = torch.topk(torch.randn(tokens, E, generator=g).softmax(-1), k, -1)
    weights = weights / weights.sum(-1, keepdim=True)
    shapes = [(E, I, C), (E, I, C), (E, C, I)]
    if int8:
        stacked = [torch.randint(-127, 128, s, generator=g, dtype=torch.int8) for s in shapes]
        scales = [torch.rand(s[:2], generator=g) * 0.01 for s in shapes]
    else:
        stacked, scales = [torch.randn(s, generator=g) / 8 for s in shapes], None
    ref = grouped_experts.experts_reference(x, chosen, weights, stacked, scales)
    ids, block_expert = grouped_experts.align(chosen, E, block_m)
    w1, w3, w2 = stacked
    s1, s3, s2 = scales if int8 else stacked
    pairs, blocks = tokens * k, block_expert.numel()
    configs = by_block_m(gate_up.configs, {}, BLOCK_M=block_m)
    for c_up, c_down in zip(configs, configs[::-1]):
        up, dn = dict(c_up.kwargs), dict(c_down.kwargs)
        h = torch.empty(pairs, I)
        gate_up.fn[(blocks, triton_cdiv(I, up["BLOCK_N"]))](
            x, w1, w3, s1, s3, h, ids, block_expert, pairs, k, E, I, C, x.stride(0), w1.stride(0), w1.stride(1),
            s1.stride(0), h.stride(0), INT8=int8, PRECISION="ieee", BLOCK_M=block_m, **up)
        y = torch.empty(pairs, C)
        down.fn[(blocks, triton_cdiv(C, dn["BLOCK_N"]))](
            h, w2, s2, y, weights.reshape(-1).contiguous(), ids, block_expert, pairs, E, C, I, h.stride(0),
            w2.stride(0), w2.stride(1), s2.stride(0), y.stride(0), INT8=int8, PRECISION="ieee", BLOCK_M=block_m, **dn)
        assert rel_err(y.view(tokens, k, C).sum(1), ref) < 1e-4, (up, dn)


def test_lightning_step_kernel():
    step = lightning._build_step_kernel()
    B, H, D = 2, 3, 64
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, 1, H, D, generator=g) for _ in range(3))
    slope, state = torch.rand(H, generator=g), torch.randn(B, H, D, D, generator=g)
    out_ref, state_ref = lightning.lightning_step(q, k, v, slope, state)
    mine, out = state.clone(), torch.empty(B, H, D)
    step[(B * H, D // 32)](q[:, 0].contiguous(), k[:, 0].contiguous(), v[:, 0].contiguous(), slope, mine, out, H,
                           D=D, BLOCK_E=32)
    assert torch.allclose(mine, state_ref, atol=1e-5) and torch.allclose(out, out_ref[:, 0], atol=1e-5)
