"""int8 loading (experts included) and the device-map planner."""

import json
import os
import subprocess
import sys

import pytest
import torch

from minimax_cli.engine.hybrid.published import MINIMAX_01
from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import (GiB, head_bytes, kv_bytes_per_token, layer_weight_bytes,
                                                 model_weight_bytes, parameter_count, plan_devices)
from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.engine.hybrid.quant import is_quantized, module_bytes
from minimax_cli.engine.hybrid.stream import score_tokens
from minimax_cli.synthetic import write_synth_checkpoint

REAL = HybridConfig.from_dict(MINIMAX_01)


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory):
    return write_synth_checkpoint(tmp_path_factory.mktemp("small") / "ckpt", "small", seed=2)


def test_int8_nll_within_2_percent_and_every_expert_int8(small_ckpt):
    text = (small_ckpt / "config.json").read_text() * 3  # any fixed token stream
    from minimax_cli.engine.hybrid.engine import load_tokenizer

    tokens = load_tokenizer(small_ckpt).encode(text, add_special_tokens=False)[:600]
    fp32 = load_checkpoint(small_ckpt, dtype="float32", device="cpu")
    int8 = load_checkpoint(small_ckpt, dtype="float32", device="cpu", quant="int8")
    nll32, n = score_tokens(fp32, tokens, 256)
    nll8, _ = score_tokens(int8, tokens, 256)
    assert abs(nll8 - nll32) / nll32 < 0.02, (nll32 / n, nll8 / n)

    for layer in int8.model.layers:
        moe = layer.block_sparse_moe
        for expert in moe.experts:
            for linear in (expert.w1, expert.w2, expert.w3):
                assert is_quantized(linear) and linear.weight._data.dtype == torch.int8
        assert type(moe.gate) is torch.nn.Linear  # the router stays unquantized
        assert not is_quantized(layer.self_attn.norm if hasattr(layer.self_attn, "norm") else layer.input_layernorm)
    assert type(int8.lm_head) is torch.nn.Linear and int8.lm_head.weight.dtype == torch.float32
    assert type(int8.model.embed_tokens) is torch.nn.Embedding
    # experts in int8: one byte per weight plus a scale per output row
    expert = int8.model.layers[0].block_sparse_moe.experts[0]
    weights = sum(m.weight._data.numel() for m in (expert.w1, expert.w2, expert.w3))
    assert weights <= module_bytes(expert) < weights * 1.05


LOAD_PEAK = """
import json, sys, threading, time
import torch
import optimum.quanto  # imported before the baseline: its import is not loading
from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.engine.hybrid.quant import module_bytes

def anon():  # anonymous memory only: file-backed pages (libraries, mapped shards) come and go
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon'):
            return int(line.split()[1]) * 1024

peak, done = [anon()], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], anon())
        time.sleep(0.0005)
before = anon()
watcher = threading.Thread(target=sample)
watcher.start()
model = load_checkpoint(sys.argv[1], dtype="bfloat16", device="cpu", quant="int8")
done.set(); watcher.join()
print(json.dumps({"before": before, "peak": peak[0], "after": anon(), "model": module_bytes(model)}))
"""


def test_loading_never_holds_the_bf16_model(tmp_path):
    """Memory while loading int8 stays below the final model plus about one bf16 layer: the bf16
    model never exists at once."""
    overrides = {"hidden_size": 512, "intermediate_size": 1536, "num_local_experts": 8,
                 "num_attention_heads": 8, "head_dim": 64, "rotary_dim": 32, "num_hidden_layers": 8}
    folder = write_synth_checkpoint(tmp_path / "ckpt", "small", seed=0, shards=8, overrides=overrides)
    config = HybridConfig.from_file(folder / "config.json")
    largest_layer_bf16 = max(layer_weight_bytes(config, i, "none") for i in range(config.num_hidden_layers))
    bf16_model = model_weight_bytes(config, "none")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", LOAD_PEAK, str(folder)], capture_output=True, text=True,
                         check=True, env=env)
    m = json.loads(out.stdout)
    assert m["after"] - m["before"] >= 0.9 * m["model"], m  # the measure sees the model arrive
    transient = m["peak"] - m["after"]
    assert transient < largest_layer_bf16 + (16 << 20), (transient, largest_layer_bf16)
    assert m["peak"] - m["before"] < m["model"] + largest_layer_bf16 + (32 << 20) < bf16_model, (m, bf16_model)


def test_planner_matches_hand_arithmetic_for_the_real_model():
    # 456B parameters (MiniMax-01 report: 456B total)
    assert round(parameter_count(REAL) / 1e9) == 456
    # one expert: 3 x 6144 x 9216 weights; int8 = 1 byte each + a bf16 scale per output row
    C, I, E = 6144, 9216, 32
    expert_int8 = 3 * C * I + (2 * I + C) * 2
    lightning_attn_int8 = (3 * 8192 * C + 3 * 8192 * 2) + (8192 * C + 8192 * 2) + (C * 8192 + C * 2) + 8192 * 2
    layer0 = lightning_attn_int8 + E * expert_int8 + E * C * 2 + 2 * C * 2
    assert layer_weight_bytes(REAL, 0, "int8") == layer0
    # KV at 1M tokens: 4 KiB per token per softmax layer -> 3.8 GiB per layer, 10 layers
    assert kv_bytes_per_token(REAL) == 4096
    plan = plan_devices(REAL, 8, 141 * GiB, 1_000_000, 32768, "int8")
    assert plan.fits and sum(d.kv_bytes for d in plan.devices) == 10 * 4096 * 1_000_000
    assert [d.holds_embed for d in plan.devices][0] and plan.devices[-1].holds_head
    assert sorted(l for d in plan.devices for l in d.layers) == list(range(80))
    # int8 halves the layers; embed and head stay bf16: ~425 GiB in all
    assert plan.weights_bytes == model_weight_bytes(REAL, "int8")
    assert 420 * GiB < plan.weights_bytes < 430 * GiB
    assert head_bytes(REAL) == 200064 * C * 2 + C * 2
    # balanced: no GPU holds more than 12% over the mean
    totals = [d.total_bytes for d in plan.devices]
    assert max(totals) < 1.12 * sum(totals) / 8


def test_plan_that_does_not_fit_says_what_would():
    plan = plan_devices(REAL, 2, 141 * GiB, 1_000_000, 32768, "int8")
    assert not plan.fits and plan.shortfall_bytes > 0
    assert any("--gpus" in a for a in plan.advice)
    smaller = plan_devices(REAL, 8, 80 * GiB, 1_000_000, 32768, "none")
    assert not smaller.fits and "--quant int8 fits" in smaller.advice


def test_loader_places_layers_by_the_plan(small_ckpt):
    """The loader follows the plan: with fake device names mapped onto the CPU, each layer lands
    where the plan says (the real multi-GPU check runs on the device machine)."""
    config = HybridConfig.from_file(small_ckpt / "config.json")
    plan = plan_devices(config, 2, 80 * GiB, 4096, 512, "none", device_names=["cpu", "cpu"])
    assert plan.devices[0].layers and plan.devices[1].layers
    model = load_checkpoint(small_ckpt, dtype="float32", plan=plan)
    assert len(model.layer_devices()) == config.num_hidden_layers
