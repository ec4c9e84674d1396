"""GPU checks (skipped without CUDA): fla's chunk kernel == blockwise torch at real width, and the
whole hybrid model's chunked prefill on CUDA == one-shot, both within bf16 tolerance.

Run on a GPU machine: `pytest -q tests/engine/hybrid/test_gpu.py -s` (prints the errors)."""

import pytest
import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.lightning import fla_available, lightning_blockwise, lightning_fla
from tests.engine.hybrid.conftest import original_config, random_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

REAL = HybridConfig.from_dict(original_config(
    num_hidden_layers=80, num_attention_heads=64, head_dim=128, hidden_size=6144))


def rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


@pytest.mark.skipif(not fla_available(), reason="needs fla-core (pip install 'minimax-cli[gpu]')")
@pytest.mark.parametrize("tokens", [4096, 16384, 65536])
@pytest.mark.parametrize("layer", [0, 40, 79])  # fast decay, middle, nearly none (slope ~1e-7)
def test_fla_matches_blockwise_with_carried_state(tokens, layer):
    g = torch.Generator(device="cuda").manual_seed(tokens + layer)
    H, D = 64, 128
    # silu(.) outputs, as in the model: non-negative-ish, O(1)
    q, k, v = (torch.nn.functional.silu(torch.randn(1, tokens, H, D, device="cuda", generator=g))
               .to(torch.bfloat16) for _ in range(3))
    slope = torch.tensor(REAL.slopes(layer), device="cuda")
    state = torch.randn(1, H, D, D, device="cuda", generator=g)  # a carried state
    ref_out, ref_state = lightning_blockwise(q, k, v, slope, state)
    out, final = lightning_fla(q, k, v, slope, state)
    e_out, e_state = rel_err(out, ref_out), rel_err(final, ref_state)
    print(f"\nfla vs blockwise: {tokens} tokens, layer {layer}: rel err out {e_out:.2e}, state {e_state:.2e}")
    assert out.dtype == torch.bfloat16 and final.dtype == torch.float32
    assert e_out < 1e-2 and e_state < 1e-2


@pytest.mark.parametrize("width", ["tiny", "wide"])
def test_cuda_model_chunked_prefill_matches_one_shot(width):
    overrides = {} if width == "tiny" else dict(
        hidden_size=1024, num_attention_heads=8, head_dim=128, num_key_value_heads=2,
        rotary_dim=64, intermediate_size=512, vocab_size=1024)
    model = random_model(original_config(**overrides), seed=0, dtype=torch.bfloat16).cuda()
    model.lm_head.float()
    tokens = torch.randint(0, model.config.vocab_size, (1, 3000), generator=torch.Generator().manual_seed(1))
    one = model.logits(model(tokens.cuda(), model.new_cache(capacity=3000)))
    cache, outs = model.new_cache(capacity=16), []
    for s in range(0, 3000, 700):
        outs.append(model.logits(model(tokens[:, s:s + 700].cuda(), cache)))
    chunked = torch.cat(outs, 1)
    err = rel_err(chunked, one)
    print(f"\ncuda {width} model: chunked (700) vs one-shot logits rel err {err:.2e}")
    assert err < 2e-2


@pytest.mark.parametrize("start,T", [(4096, 1024), (70000, 4096), (5, 1)])
def test_cuda_chunk_attention_matches_reference(start, T):
    """The CUDA backends (cuDNN for the prefix, flash for the square) against a masked reference."""
    from minimax_cli.engine.hybrid import attention

    g = torch.Generator(device="cuda").manual_seed(start + T)
    q = torch.randn(1, T, 16, 128, device="cuda", generator=g, dtype=torch.bfloat16)
    keys = torch.randn(1, 2, start + T, 128, device="cuda", generator=g, dtype=torch.bfloat16)
    values = torch.randn(1, 2, start + T, 128, device="cuda", generator=g, dtype=torch.bfloat16)
    out = attention.attend_chunk(q, keys, values, start, 128 ** -0.5)
    ref = attention.attend_reference(q[:, -64:], keys, values, start + T - 64, 128 ** -0.5) if T >= 64 else \
        attention.attend_reference(q, keys, values, start, 128 ** -0.5)
    got = out[:, -64:] if T >= 64 else out
    err = rel_err(got, ref)
    print(f"\nchunk attention start {start} T {T}: rel err {err:.2e} (cudnn prefix: {attention._cudnn_ok})")
    assert err < 2e-2


@pytest.mark.parametrize("M,N,K", [(1, 9216, 6144), (1, 6144, 9216), (3, 24576, 6144), (16, 200, 96),
                                   (40, 6144, 8192), (128, 24576, 6144), (256, 200, 96)])
def test_int8_matmul_kernel_matches_reference(M, N, K):
    from minimax_cli.engine.hybrid.int8_matmul import int8_matmul, int8_matmul_reference

    g = torch.Generator(device="cuda").manual_seed(M * N)
    x = torch.randn(M, K, device="cuda", generator=g, dtype=torch.bfloat16)
    w = torch.randint(-127, 128, (N, K), device="cuda", generator=g, dtype=torch.int8)
    scale = torch.rand(N, device="cuda", generator=g, dtype=torch.bfloat16) * 0.01
    err = rel_err(int8_matmul(x, w, scale), int8_matmul_reference(x, w, scale))
    print(f"\nint8 matmul {M}x{K} @ {N}x{K}: rel err {err:.2e}")
    assert err < 1e-2


def test_int8_linear_decode_path_matches_quanto():
    from minimax_cli.engine.hybrid.quant import quantize_linear

    lin = torch.nn.Linear(6144, 9216, bias=False, device="cuda", dtype=torch.bfloat16)
    q = quantize_linear(lin)
    x = torch.randn(1, 1, 6144, device="cuda", dtype=torch.bfloat16)
    fused = q(x)  # 1 row: the Triton kernel
    dequant = torch.nn.functional.linear(x, q.qweight.dequantize())  # quanto's own route
    assert rel_err(fused, dequant) < 1e-2 and rel_err(fused, lin(x)) < 3e-2


@pytest.mark.parametrize("position", range(8))
def test_int8_one_row_converts_every_byte_exactly(position):
    """One row runs the bit-trick int8 conversion (grouped_experts_triton.INT8_TO_FP32): a one-hot row
    picks column `position` (each byte lane of a packed word) of a weight holding all 256 values."""
    from minimax_cli.engine.hybrid.int8_matmul import int8_matmul

    values = torch.arange(256, device="cuda")
    w = ((values[:, None] + torch.arange(512, device="cuda")[None, :]) % 256 - 128).to(torch.int8)  # [256, 512]
    x = torch.zeros(1, 512, device="cuda", dtype=torch.bfloat16)
    x[0, position] = 1
    y = int8_matmul(x, w, torch.ones(256, device="cuda", dtype=torch.bfloat16))
    assert torch.equal(y[0].float(), w[:, position].float())
