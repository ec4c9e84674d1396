"""The grouped expert kernels (grouped_experts.py) against the pair-by-pair reference, and the
device-side layout they run on. The layout and the reference run on the CPU; the kernels on CUDA."""

import pytest
import torch

from minimax_cli.engine.hybrid.grouped_experts import align, block_size, experts_reference, grouped_experts
from tests.engine.hybrid.conftest import original_config, random_model

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def routing(tokens: int, experts: int, top_k: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    weights, chosen = torch.topk(torch.softmax(torch.randn(tokens, experts, generator=g), -1), top_k, dim=-1)
    return weights / weights.sum(-1, keepdim=True), chosen


@pytest.mark.parametrize("tokens,experts,block_m", [(1, 4, 16), (3, 4, 16), (40, 4, 16), (200, 32, 16),
                                                     (64, 4, 32), (7, 8, 64)])
def test_align_puts_every_pair_once_in_blocks_of_one_expert(tokens, experts, block_m):
    _, chosen = routing(tokens, experts, seed=tokens)
    ids, block_expert = align(chosen, experts, block_m)
    pairs = chosen.numel()
    flat = chosen.reshape(-1)
    real = ids[ids < pairs]
    assert sorted(real.tolist()) == list(range(pairs))  # every pair exactly once
    for b, e in enumerate(block_expert.tolist()):
        block = ids[b * block_m:(b + 1) * block_m]
        members = block[block < pairs].long()
        if e >= experts:
            assert members.numel() == 0  # blocks past the used ones are empty
        else:
            assert members.numel() > 0 and (flat[members] == e).all()
    used = (block_expert < experts).sum().item()
    expected = sum(-(-int((flat == e).sum()) // block_m) for e in range(experts))
    assert used == expected  # no expert gets more blocks than its pairs need


def test_reference_is_the_models_sum():
    model = random_model(original_config(num_local_experts=4), seed=3)
    moe = model.model.layers[0].block_sparse_moe
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(4))
    weights, chosen = routing(5, 4, seed=5)
    expected = moe._many_tokens(x, weights, chosen)
    moe.stack_experts()
    assert torch.allclose(experts_reference(x, chosen, weights, moe.stacked), expected, atol=1e-5)


def test_int8_experts_stack_as_views_of_one_tensor():
    pytest.importorskip("optimum.quanto")
    from minimax_cli.engine.hybrid.quant import quantize_linear

    model = random_model(original_config(num_local_experts=4), seed=6)
    moe = model.model.layers[0].block_sparse_moe
    for expert in moe.experts:
        for proj in ("w1", "w3", "w2"):
            setattr(expert, proj, quantize_linear(getattr(expert, proj)))
    x = torch.randn(6, 64, generator=torch.Generator().manual_seed(7))
    weights, chosen = routing(6, 4, seed=8)
    before = moe._many_tokens(x, weights, chosen)
    moe.stack_experts()
    assert moe.experts[1].w3.weight._data.data_ptr() == moe.stacked[1][1].data_ptr()
    assert moe.stacked[0].dtype == torch.int8 and moe.scales[0].shape == (4, 96)
    assert torch.equal(moe._many_tokens(x, weights, chosen), before)  # the experts still run as before
    assert torch.allclose(experts_reference(x, chosen, weights, moe.stacked, moe.scales), before, atol=1e-4)


@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("int8", [False, True])
@pytest.mark.parametrize("tokens", [1, 2, 5, 16, 64, 200])
def test_kernels_match_reference(tokens, int8):
    """bf16 activations, fp32 accumulation: within 1% (relative norm) of the fp32 reference."""
    g = torch.Generator(device="cuda").manual_seed(tokens)
    E, C, inter = 8, 512, 768
    x = torch.randn(tokens, C, device="cuda", generator=g).to(torch.bfloat16)
    weights, chosen = routing(tokens, E, seed=tokens)
    weights, chosen = weights.cuda(), chosen.cuda()
    shapes = [(E, inter, C), (E, inter, C), (E, C, inter)]
    if int8:
        stacked = [torch.randint(-127, 128, s, device="cuda", generator=g, dtype=torch.int8) for s in shapes]
        scales = [torch.rand(s[:2], device="cuda", generator=g).to(torch.bfloat16) / (20 * s[2] ** 0.5)
                  for s in shapes]
    else:
        stacked = [(torch.randn(s, device="cuda", generator=g) / s[2] ** 0.5).to(torch.bfloat16) for s in shapes]
        scales = None
    out = grouped_experts(x, chosen, weights, stacked, scales)
    ref = experts_reference(x, chosen, weights, stacked, scales)
    err = ((out - ref).norm() / ref.norm()).item()
    assert err < 1e-2, (err, block_size(tokens, 2, E))
