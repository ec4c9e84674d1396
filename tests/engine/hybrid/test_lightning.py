"""Every lightning implementation against the per-token reference (fla-style)."""

import pytest
import torch

from minimax_cli.engine.hybrid.lightning import (
    lightning, lightning_blockwise, lightning_reference, lightning_step)


def random_inputs(B, T, H, D, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, T, H, D, generator=g, dtype=dtype) * 0.5 for _ in range(3))
    slope = torch.rand(H, generator=g) * 0.9 + 0.005  # real slopes span ~0.003 .. 0.92
    state = torch.randn(B, H, D, D, generator=g) * 0.3
    return q, k, v, slope, state


@pytest.mark.parametrize("T,block,seed", [(1, 4, 0), (5, 4, 1), (37, 8, 2), (64, 16, 3), (300, 256, 4), (129, 32, 5)])
def test_blockwise_matches_reference_from_any_state(T, block, seed):
    q, k, v, slope, state = random_inputs(2, T, 3, 8, seed)
    out_ref, s_ref = lightning_reference(q, k, v, slope, state)
    out, s = lightning_blockwise(q, k, v, slope, state, block=block)
    assert torch.allclose(out, out_ref, atol=1e-5, rtol=1e-5), (out - out_ref).abs().max()
    assert torch.allclose(s, s_ref, atol=1e-5, rtol=1e-5)
    assert s.dtype == torch.float32


@pytest.mark.parametrize("cuts", [[13, 7, 1, 30], [1, 1, 1], [64], [50, 1, 79, 73]])
def test_split_sequence_equals_one_shot(cuts):
    """A sequence cut anywhere into pieces, state carried, equals one pass: chunked prefill."""
    T = sum(cuts)
    q, k, v, slope, state = random_inputs(1, T, 4, 16, seed=T)
    state = torch.zeros_like(state)
    one_out, one_state = lightning_blockwise(q, k, v, slope, state, block=16)
    outs, pos = [], 0
    for n in cuts:
        o, state = lightning(q[:, pos:pos + n], k[:, pos:pos + n], v[:, pos:pos + n], slope, state)
        outs.append(o)
        pos += n
    assert torch.allclose(torch.cat(outs, 1), one_out, atol=1e-5)
    assert torch.allclose(state, one_state, atol=1e-5)


def test_step_matches_reference():
    q, k, v, slope, state = random_inputs(2, 1, 4, 8, seed=9)
    out_ref, s_ref = lightning_reference(q, k, v, slope, state)
    out, s = lightning_step(q, k, v, slope, state)
    assert torch.allclose(out, out_ref, atol=1e-6) and torch.allclose(s, s_ref, atol=1e-6)


def test_bf16_inputs_keep_fp32_state():
    q, k, v, slope, state = random_inputs(1, 40, 2, 8, seed=3, dtype=torch.bfloat16)
    out, s = lightning_blockwise(q, k, v, slope, state, block=16)
    out_ref, s_ref = lightning_reference(q, k, v, slope, state)
    assert out.dtype == torch.bfloat16 and s.dtype == torch.float32
    assert torch.allclose(s, s_ref, atol=1e-4)


def test_decay_really_forgets():
    """With a large slope the state after a long run is dominated by the recent tokens."""
    q, k, v, _, state = random_inputs(1, 200, 1, 4, seed=4)
    slope = torch.tensor([5.0])
    _, s_all = lightning_blockwise(q, k, v, slope, state)
    _, s_tail = lightning_blockwise(q[:, -10:], k[:, -10:], v[:, -10:], slope, torch.zeros_like(state))
    assert torch.allclose(s_all, s_tail, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_step_updates_the_state_in_place_like_the_reference(dtype):
    from minimax_cli.engine.hybrid.lightning import lightning_step_triton

    q, k, v, slope, state = (t.cuda() for t in random_inputs(3, 1, 4, 128, seed=11, dtype=dtype))
    out_ref, s_ref = lightning_reference(q, k, v, slope, state)
    mine = state.clone()
    out, s = lightning_step_triton(q, k, v, slope, mine)
    assert s.data_ptr() == mine.data_ptr()  # in place
    assert torch.allclose(s, s_ref, atol=1e-5, rtol=1e-5)
    assert out.dtype == dtype and torch.allclose(out.float(), out_ref.float(), atol=1e-2 if dtype != torch.float32 else 1e-4)
