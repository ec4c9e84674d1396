"""Chunk attention (prefix + square, merged by log-sum-exp) against a materialised mask."""

import pytest
import torch

from minimax_cli.engine.hybrid.attention import attend_chunk, attend_reference


@pytest.mark.parametrize("start,T,Hq,Hkv", [(0, 9, 4, 2), (5, 1, 4, 2), (17, 6, 8, 2), (3, 20, 4, 4), (100, 33, 6, 3)])
def test_chunk_attention_matches_masked_reference(start, T, Hq, Hkv):
    g = torch.Generator().manual_seed(start * 100 + T)
    D, S = 16, start + T + 5  # the cache holds unwritten slots past start+T: they must be ignored
    q = torch.randn(2, T, Hq, D, generator=g)
    keys = torch.randn(2, Hkv, S, D, generator=g)
    values = torch.randn(2, Hkv, S, D, generator=g)
    out = attend_chunk(q, keys, values, start, scale=D ** -0.5)
    ref = attend_reference(q, keys[:, :, : start + T], values[:, :, : start + T], start, D ** -0.5)
    assert out.shape == (2, T, Hq, D)
    assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


def test_bf16_chunk_attention_close_to_fp32():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(1, 8, 4, 32, generator=g)
    keys, values = torch.randn(1, 2, 40, 32, generator=g), torch.randn(1, 2, 40, 32, generator=g)
    ref = attend_reference(q, keys, values, 32, 32 ** -0.5)
    out = attend_chunk(q.bfloat16(), keys.bfloat16(), values.bfloat16(), 32, 32 ** -0.5)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 3e-2
