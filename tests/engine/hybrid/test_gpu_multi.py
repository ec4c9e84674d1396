"""Two GPUs (skipped with fewer): a real-width int8 checkpoint loaded by the planner across both;
memory per GPU against the plan; the 2-GPU pipelined prefill equal to a one-GPU run.

Run on a 2-GPU machine: `pytest -q tests/engine/hybrid/test_gpu_multi.py -s` (prints the numbers)."""

import time

import pytest
import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import GiB, plan_devices
from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.engine.hybrid.stream import prefill
from minimax_cli.synthetic import write_synth_checkpoint

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs"),
]

REAL_WIDTH = {"hidden_size": 6144, "num_attention_heads": 64, "head_dim": 128, "num_key_value_heads": 8,
              "rotary_dim": 64, "intermediate_size": 9216, "num_local_experts": 4,
              "attn_type_list": [0, 0, 0, 1], "vocab_size": 2048}
CONTEXT, CHUNK = 24576, 4096


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    t0 = time.perf_counter()
    folder = write_synth_checkpoint(tmp_path_factory.mktemp("real") / "ckpt", "small", shards=4,
                                    overrides=REAL_WIDTH)
    print(f"\nwrote a real-width 4-layer checkpoint in {time.perf_counter() - t0:.1f}s")
    return folder


def test_two_gpus_match_the_plan_and_one_gpu(checkpoint):
    config = HybridConfig.from_file(checkpoint / "config.json")
    capacity = min(torch.cuda.get_device_properties(i).total_memory for i in range(2))
    plan = plan_devices(config, 2, capacity, CONTEXT, CHUNK, "int8")
    assert plan.fits and all(d.layers for d in plan.devices)

    base = [torch.cuda.memory_allocated(i) for i in range(2)]
    t0 = time.perf_counter()
    model = load_checkpoint(checkpoint, dtype="bfloat16", plan=plan, quant="int8")
    load_s = time.perf_counter() - t0
    loaded = [torch.cuda.memory_allocated(i) - base[i] for i in range(2)]
    for i, d in enumerate(plan.devices):
        print(f"cuda:{i} layers {d.layers}: weights planned {d.weights_bytes / GiB:.2f} GiB, "
              f"measured {loaded[i] / GiB:.2f} GiB ({loaded[i] / d.weights_bytes:.3f}x); load {load_s:.1f}s")
        assert abs(loaded[i] - d.weights_bytes) < 0.10 * d.weights_bytes

    tokens = torch.randint(0, 2048, (CONTEXT,), generator=torch.Generator().manual_seed(0)).tolist()
    for i in range(2):
        torch.cuda.reset_peak_memory_stats(i)
    cache = model.new_cache(capacity=CONTEXT)
    two = prefill(model, cache, tokens, CHUNK, total=len(tokens))
    two_logits = model.logits(two).float().cpu()
    for i, d in enumerate(plan.devices):
        peak = torch.cuda.max_memory_allocated(i) - base[i]
        print(f"cuda:{i} peak during prefill {peak / GiB:.2f} GiB; planned total {d.total_bytes / GiB:.2f} GiB "
              f"(weights {d.weights_bytes / GiB:.2f} + kv {d.kv_bytes / GiB:.2f} + state "
              f"{d.state_bytes / GiB:.3f} + headroom {d.headroom_bytes / GiB:.2f})")
        assert peak <= d.total_bytes
    del model, cache
    torch.cuda.empty_cache()

    one = load_checkpoint(checkpoint, dtype="bfloat16", device="cuda:0", quant="int8")
    one_logits = one.logits(prefill(one, one.new_cache(capacity=CONTEXT), tokens, CHUNK, total=len(tokens))).float().cpu()
    err = ((two_logits - one_logits).norm() / one_logits.norm()).item()
    print(f"2-GPU pipelined vs 1-GPU logits: rel err {err:.2e}, argmax equal {bool((two_logits.argmax() == one_logits.argmax()))}")
    assert err < 2e-2
