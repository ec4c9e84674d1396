"""Decode steps as CUDA graphs (graphs.py): the same tokens as eager steps and as one row alone.

The view bookkeeping runs on the CPU; the graphs themselves need CUDA."""

import pytest
import torch

from minimax_cli.engine.base import GenerationParams
from minimax_cli.engine.hybrid.graphs import DecodeSteps, decode_width
from minimax_cli.engine.hybrid.load import stack_experts
from minimax_cli.engine.hybrid.rows import HybridRunner
from minimax_cli.engine.scheduler import Scheduler
from tests.engine.hybrid.conftest import original_config, random_model
from tests.engine.hybrid.test_rows import STOP, alone, letters, prompts

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_widths_are_buckets():
    assert [decode_width(b) for b in (1, 2, 3, 4, 5, 8, 9, 64, 65)] == [1, 2, 4, 4, 8, 8, 16, 64, 128]


def test_a_view_is_kept_while_the_step_shape_holds(model_cpu):
    runner = HybridRunner(model_cpu, context_window=4096, chunk_size=64, max_rows=4, memory_budget=1 << 30)
    runner.steps.pad = True  # as on a GPU: rows padded to a bucket, own KV read in blocks
    sched = Scheduler(runner, letters, [STOP])
    seen = []
    original = DecodeSteps.view

    def spy(self, tokens):
        view = original(self, tokens)
        seen.append((self.slots.active, id(view), view.keys))
        return view

    DecodeSteps.view = spy
    try:
        sched.submit(prompts(1, seed=5)[0], GenerationParams(max_new_tokens=20)).result(timeout=300)
    finally:
        DecodeSteps.view = original
        sched.close()
    assert len(seen) >= 19 and len({v for _, v, _ in seen}) == 1  # one row, one shape: one view
    assert {keys for _, _, keys in seen} == {256}  # own KV read in blocks, not grown a token a step


@pytest.fixture(scope="module")
def model_cpu():
    model = random_model(original_config(), seed=21)
    stack_experts(model)
    return model


def runner_on(model, graphs: bool, max_rows: int = 5):
    runner = HybridRunner(model, context_window=4096, chunk_size=8, max_rows=max_rows, memory_budget=1 << 32,
                          graphs=graphs)
    return runner, Scheduler(runner, letters, [STOP])


@pytest.mark.gpu
@needs_cuda
def test_cuda_graph_rows_joining_and_leaving_match_one_at_a_time():
    """fp32: 32 requests with rows joining and leaving, steps replayed from graphs, give exactly
    the tokens of each request alone (the eager batch-1 path)."""
    model = random_model(original_config(), seed=21).cuda()
    stack_experts(model)
    reqs = prompts(32)
    budgets = [5 + (i * 7) % 23 for i in range(32)]
    runner, sched = runner_on(model, graphs=True)
    futures = [sched.submit(ids, GenerationParams(max_new_tokens=n)) for ids, n in zip(reqs, budgets)]
    done = [f.result(timeout=300) for f in futures]
    sched.close()
    assert [d.tokens for d in done] == [alone(model, ids, n) for ids, n in zip(reqs, budgets)]


@pytest.mark.gpu
@needs_cuda
def test_cuda_graph_replay_gives_the_eager_steps_logits_in_bf16():
    """bf16, rows over a shared prefix and rows of their own, padded to a bucket: the replayed graph
    and the same step run eagerly from the same state give the same logits. (Not bit for bit:
    cuBLAS may pick other algorithms under capture, and random weights put near-ties everywhere.)"""
    from minimax_cli.engine.scheduler import Request

    raw = original_config(hidden_size=512, intermediate_size=1024, num_attention_heads=8, head_dim=64,
                          rotary_dim=32, num_key_value_heads=2, vocab_size=4096)
    model = random_model(raw, seed=4).to(device="cuda", dtype=torch.bfloat16)
    stack_experts(model)
    runner, sched = runner_on(model, graphs=True, max_rows=8)
    sched.close()  # the runner is driven directly here
    doc = prompts(1, seed=1, low=300, high=301)[0]
    params = GenerationParams(max_new_tokens=64)
    requests = [Request(doc + q, params, shared=len(doc)) for q in prompts(3, seed=2, low=2, high=9)]
    requests += [Request(p, params) for p in prompts(2, seed=3)]
    for request in requests:
        while not runner.prefill(request, alone=False):
            pass
    for _ in range(4):  # eager, captured, replayed, replayed
        runner.step()
    assert any(s.graph is not None for s in runner.steps._shapes.values())
    slots = runner.slots
    with torch.inference_mode():  # as the runner's own steps run
        saved = {name: {i: t.clone() for i, t in getattr(slots, name).items()}
                 for name in ("states", "keys", "values")}
        view = runner.steps.view(runner._pending)
        replayed = runner.steps.run(view, runner._forward)[:5].clone()
        for name, tensors in saved.items():  # back to the state before that step
            for i, t in tensors.items():
                getattr(slots, name)[i].copy_(t)
        eager = runner._forward(view)[:5]
    err = ((replayed - eager).norm() / eager.norm()).item()
    assert err < 1e-2, err
    assert (replayed.argmax(-1) == eager.argmax(-1)).float().mean() >= 0.8
