"""The hybrid model: chunked prefill == one-shot, decode == prefill, snapshots, partial RoPE."""

import pytest
import torch

from minimax_cli.engine.hybrid.model import apply_partial_rope, rope_cos_sin
from minimax_cli.engine.hybrid.stream import Sampler, decode, prefill, score_tokens
from tests.engine.hybrid.conftest import original_config, random_model

LAYOUTS = {
    "real": None,  # layer 0 lightning, softmax every 8th
    "softmax-first": [1, 0, 0, 1, 0, 0, 0, 1],
    "all-lightning": [0] * 8,
    "all-softmax": [1] * 4,
}


def all_logits(model, tokens, chunk):
    cache = model.new_cache(capacity=8)  # small on purpose: growth is exercised
    outs = []
    for s in range(0, len(tokens), chunk):
        outs.append(model.logits(model(torch.tensor([tokens[s:s + chunk]]), cache))[0])
    return torch.cat(outs)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_chunked_prefill_equals_one_shot(layout):
    types = LAYOUTS[layout]
    raw = original_config() if types is None else original_config(
        num_hidden_layers=len(types), attn_type_list=types)
    model = random_model(raw, seed=1)
    tokens = torch.randint(0, 256, (150,), generator=torch.Generator().manual_seed(2)).tolist()
    one_shot = all_logits(model, tokens, len(tokens))
    for chunk in (1, 7, 64):
        chunked = all_logits(model, tokens, chunk)
        err = (chunked - one_shot).abs().max().item()
        assert err < 1e-5, f"chunk {chunk}: max |dlogit| {err}"


def test_decode_continues_prefill_exactly():
    """Greedy decode after a prefill == logits of the same sequence prefilled one-shot."""
    model = random_model(original_config(), seed=3)
    prompt = list(range(40, 70))
    cache = model.new_cache()
    last = prefill(model, cache, iter(prompt), chunk_size=16)
    out = list(decode(model, cache, last, Sampler(), max_new_tokens=10, stop_ids=[]))
    assert len(out) == 10
    full = all_logits(model, prompt + out, 1000)
    assert full[len(prompt) - 1:-1].argmax(-1).tolist() == out


def test_snapshot_restore_reuses_prefix():
    model = random_model(original_config(), seed=4)
    doc, q1, q2 = list(range(10, 90)), [5, 6, 7], [200, 201]
    cache = model.new_cache()
    prefill(model, cache, doc, chunk_size=32)
    snap = cache.snapshot()
    h1 = prefill(model, cache, q1)
    cache.restore(snap)
    h2 = prefill(model, cache, q2)
    for q, h in ((q1, h1), (q2, h2)):
        fresh = model.new_cache()
        expected = prefill(model, fresh, doc + q, chunk_size=1000)
        assert torch.allclose(model.logits(h), model.logits(expected), atol=1e-5)


def test_score_is_independent_of_chunk():
    model = random_model(original_config(), seed=5)
    tokens = torch.randint(0, 256, (97,), generator=torch.Generator().manual_seed(6)).tolist()
    base, n = score_tokens(model, tokens, chunk_size=97)
    assert n == 96
    for chunk in (1, 10, 33):
        nll, _ = score_tokens(model, tokens, chunk_size=chunk, head_rows=7)
        assert abs(nll - base) / n < 1e-5


def test_partial_rope_rotates_only_the_first_dims():
    """The original rule: rotate-half over x[..., :rotary_dim], x[..., rotary_dim:] untouched."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, 2, 16, generator=g)
    pos = torch.arange(100, 105)
    cos, sin = rope_cos_sin(pos, 8, 10000.0)
    y = apply_partial_rope(x, cos, sin)
    assert torch.equal(y[..., 8:], x[..., 8:])
    # by hand: pairs (i, i+4) of the first 8 dims rotate by pos * theta^(-2i/8)
    for i in range(4):
        angle = pos.double() * 10000.0 ** (-2 * i / 8)
        c, s = angle.cos().float()[None, :, None], angle.sin().float()[None, :, None]
        a, b = x[..., i], x[..., i + 4]
        assert torch.allclose(y[..., i], a * c - b * s, atol=1e-5)
        assert torch.allclose(y[..., i + 4], b * c + a * s, atol=1e-5)
    # norms of rotated pairs are preserved; positions differ -> output differs
    assert torch.allclose(y[..., :8].norm(dim=-1), x[..., :8].norm(dim=-1), atol=1e-5)


def test_moe_runs_only_experts_with_tokens():
    model = random_model(original_config(num_local_experts=8), seed=7)
    moe = model.model.layers[0].block_sparse_moe
    calls = []
    for e, expert in enumerate(moe.experts):
        expert.register_forward_hook(lambda m, i, o, e=e: calls.append(e))
    x = torch.randn(1, 1, 64)
    moe(x)
    assert len(calls) == 2  # one token, top-2: exactly two experts ran


@pytest.mark.parametrize("tokens", [1, 3, 6, 40])
def test_moe_paths_give_the_same_sum(tokens):
    """One token at a time, grouped by expert, and every expert over every row (stacked weights)
    are three ways to the same weighted sum."""
    from minimax_cli.engine.hybrid import model as model_module

    model = random_model(original_config(num_local_experts=4), seed=10)
    moe = model.model.layers[0].block_sparse_moe
    x = torch.randn(1, tokens, 64, generator=torch.Generator().manual_seed(11))
    flat = x.reshape(-1, 64)
    weights, chosen = torch.topk(torch.softmax(torch.randn(tokens, 4), -1), 2, dim=-1)
    few = moe._few_tokens(flat, weights, chosen)
    many = moe._many_tokens(flat, weights, chosen)
    moe.stack_experts()
    every = moe._every_expert(flat, weights, chosen)
    assert torch.allclose(few, many, atol=1e-5) and torch.allclose(every, many, atol=1e-5)
    assert moe.experts[2].w1.weight.data_ptr() == moe.stacked[0][2].data_ptr()  # views, no copy
    # forward picks the batched path for a decode batch that touches every expert anyway
    calls = []
    original = model_module.SparseMoE._every_expert
    model_module.SparseMoE._every_expert = lambda self, *a: calls.append(1) or original(self, *a)
    try:
        moe(x)
    finally:
        model_module.SparseMoE._every_expert = original
    assert calls == ([1] if tokens * 2 > model_module.SMALL_BATCH else [])


def test_pipelined_prefill_equals_sequential():
    """Chunks flowing through two stages (threads) give the sequential result; on CPU the stages
    share a device, so this checks the hand-offs and positions, the GPU run checks overlap."""
    from minimax_cli.engine.hybrid.stream import prefill_pipelined

    model = random_model(original_config(num_hidden_layers=16), seed=8)
    tokens = torch.randint(0, 256, (230,), generator=torch.Generator().manual_seed(9)).tolist()
    seq_cache = model.new_cache()
    expected = prefill(model, seq_cache, tokens, chunk_size=32)
    pipe_cache = model.new_cache()
    got = prefill_pipelined(model, pipe_cache, iter(tokens), 32, [list(range(0, 6)), list(range(6, 16))],
                            total=len(tokens))
    assert pipe_cache.length == seq_cache.length == 230
    assert torch.allclose(model.logits(got), model.logits(expected), atol=1e-5)
    for i in seq_cache.states:
        assert torch.allclose(pipe_cache.states[i], seq_cache.states[i], atol=1e-5)
