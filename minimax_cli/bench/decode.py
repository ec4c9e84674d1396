"""`minimax bench decode`: decode steps through the row runner (and the older one-token stream path),
set against the bytes a step must read."""

from __future__ import annotations

import time

from minimax_cli.bench.measure import copy_bandwidth, devices_of, memory_report, reset_peaks, sync
from minimax_cli.bench.stack import random_tokens
from minimax_cli.engine.hybrid.devicemap import (head_bytes, kv_bytes_per_token, layer_weight_bytes, linear_bytes,
                                                 state_bytes)
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.stream import Sampler, decode, prefill


def step_bytes(model: HybridForCausalLM, rows: int, context: int, shared: bool, quant: str) -> int:
    """Bytes one decode step must read at least: every layer's weights but the experts, the
    experts the rows' tokens can reach (all of them once rows x top-k >= experts; else rows x
    top-k of them), the head, each softmax layer's KV (the shared prefix once), and each lightning
    layer's states (read and written per row)."""
    config = model.config
    E, k = config.num_local_experts, config.num_experts_per_tok
    expert = 2 * linear_bytes(config.intermediate_size, config.hidden_size, quant) + linear_bytes(
        config.hidden_size, config.intermediate_size, quant)
    reached = min(E, rows * k)
    weights = sum(layer_weight_bytes(config, i, quant) - (E - reached) * expert
                  for i in range(config.num_hidden_layers))
    kv = kv_bytes_per_token(config) * context * len(config.softmax_layers) * (1 if shared else rows)
    states = rows * state_bytes(config) * len(config.lightning_layers)  # one state read, one written
    return weights + head_bytes(config) + kv + states


def bench_decode(model: HybridForCausalLM, context: int, new_tokens: int, chunk: int, batch: int = 1,
                 shared: bool = True, quant: str = "none") -> dict:
    """Greedy decode of `new_tokens` by each of `batch` rows after a `context`-token prompt: the
    rows share the prompt as a prefix (many questions over one document), or with `shared=False`
    each has its own (many documents). Measures the decode steps alone, token reads included,
    against the bytes a step must read and the device's copy bandwidth."""
    from minimax_cli.engine.base import GenerationParams
    from minimax_cli.engine.hybrid.rows import HybridRunner
    from minimax_cli.engine.scheduler import Request

    vocab = model.config.vocab_size
    runner = HybridRunner(model, context_window=context + new_tokens + 64, chunk_size=chunk, max_rows=batch,
                          memory_budget=1 << 50)
    params = GenerationParams(max_new_tokens=new_tokens + 16)
    doc = list(random_tokens(context, vocab))
    requests = [Request((doc if shared else list(random_tokens(context, vocab, seed=r + 1))) + [r % vocab, 7],
                        params, shared=context if shared else 0) for r in range(batch)]
    devices = devices_of(model)
    t0 = time.perf_counter()
    for request in requests:
        while not runner.prefill(request, alone=True):
            pass
    for d in devices:
        sync(d)
    prefill_s = time.perf_counter() - t0
    for _ in range(2):  # warm-up
        runner.step()
    runner.read()
    reset_peaks(devices)
    for d in devices:
        sync(d)
    t0 = time.perf_counter()
    for i in range(1, new_tokens + 1):
        runner.step()
        if i % runner.sync_every == 0:
            runner.read()
    runner.read()
    seconds = time.perf_counter() - t0
    read = step_bytes(model, batch, context, shared, quant)
    bandwidth = copy_bandwidth(devices[0])
    step = seconds / new_tokens
    return {"context": context, "batch": batch, "shared_prefix": shared, "new_tokens": new_tokens,
            "prefill_seconds": prefill_s, "seconds": seconds, "step_ms": 1000 * step,
            "tok_s": batch * new_tokens / seconds, "step_bytes": read,
            "copy_bandwidth_gbs": bandwidth and bandwidth / 1e9,
            "bandwidth_fraction": bandwidth and read / step / bandwidth,
            "devices": memory_report(devices)}


def bench_decode_reference(model: HybridForCausalLM, context: int, new_tokens: int, chunk: int) -> dict:
    """The batch-1 path before the scheduler (stream.decode: a token at a time, host sampling)."""
    cache = model.new_cache(capacity=context + new_tokens + 1)
    last = prefill(model, cache, random_tokens(context, model.config.vocab_size), chunk, total=context)
    devices = devices_of(model)
    list(decode(model, cache, last, Sampler(), 2, stop_ids=[]))  # warm-up
    for d in devices:
        sync(d)
    t0 = time.perf_counter()
    out = list(decode(model, cache, last, Sampler(), new_tokens, stop_ids=[]))
    for d in devices:
        sync(d)
    seconds = time.perf_counter() - t0
    return {"context": context, "batch": 1, "path": "reference", "new_tokens": len(out), "seconds": seconds,
            "step_ms": 1000 * seconds / len(out), "tok_s": len(out) / seconds, "devices": memory_report(devices)}
