"""`bench prefill --project`: measured per-layer costs, and the real 80-layer model projected from them."""

from __future__ import annotations

import time

import torch

from minimax_cli.bench.measure import sync
from minimax_cli.engine.hybrid.config import SOFTMAX
from minimax_cli.engine.hybrid.model import HybridForCausalLM


def layer_costs(model: HybridForCausalLM, chunk: int, prefixes: list[int], repeats: int = 3) -> dict:
    """Measured seconds of one chunk through each kind of layer (a lightning layer, a softmax
    layer at each prefix length), and of one decode step through each: the inputs of the
    80-layer projection."""
    config = model.config
    lin = config.lightning_layers[0]
    soft = config.softmax_layers[0] if config.softmax_layers else None
    device = model.model.layers[lin].input_layernorm.weight.device
    cache = model.new_cache(capacity=max(prefixes) + chunk + 2)
    x = torch.randn(1, chunk, config.hidden_size, device=device,
                    dtype=model.model.embed_tokens.weight.dtype)

    def timed(layer: int, start: int, inp) -> float:
        best = float("inf")
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            model.run_layers(inp, cache, start, [layer])
            sync(device)
            best = min(best, time.perf_counter() - t0)
        return best

    timed(lin, 0, x)
    result = {"chunk": chunk, "lightning_chunk_s": timed(lin, 0, x), "softmax_chunk_s": {},
              "lightning_step_s": timed(lin, 0, x[:, :1]), "softmax_step_s": {}}
    if soft is not None:
        for p in prefixes:
            result["softmax_chunk_s"][p] = timed(soft, p, x)
            result["softmax_step_s"][p] = timed(soft, p, x[:, :1])
    return result


def project(costs: dict, layers: int = 80, softmax_every: int = 8, gpus: int = 8,
            tokens: int = 1_000_000, link_gbps: float = 100.0, hidden: int = 6144) -> dict:
    """The real model's 1M-token prefill and decode from measured per-layer costs.

    Prefill: a pipeline of `gpus` stages, 10 layers each; chunk c's stage time is its layers'
    measured costs at prefix c x chunk (softmax costs interpolated between measured prefixes);
    stage s finishes chunk c at max(its previous chunk, stage s-1's chunk c) + its time, plus the
    hand-off of the chunk's activations over the link. Decode: one token through all 80 layers in
    turn plus a hop per GPU boundary."""
    chunk = costs["chunk"]
    soft_points = sorted((int(p), t) for p, t in costs["softmax_chunk_s"].items())
    step_points = sorted((int(p), t) for p, t in costs["softmax_step_s"].items())

    def interp(points, p):
        if p <= points[0][0]:
            return points[0][1]
        for (p0, t0), (p1, t1) in zip(points, points[1:]):
            if p <= p1:
                return t0 + (t1 - t0) * (p - p0) / (p1 - p0)
        (p0, t0), (p1, t1) = points[-2], points[-1]  # extrapolate linearly (attention is linear in p)
        return t1 + (t1 - t0) * (p - p1) / (p1 - p0)

    kinds = [SOFTMAX if i % softmax_every == softmax_every - 1 else "lightning" for i in range(layers)]
    per_stage = layers // gpus
    stages = [kinds[s * per_stage:(s + 1) * per_stage] for s in range(gpus)]
    hop = chunk * hidden * 2 / (link_gbps * 1e9)
    chunks = -(-tokens // chunk)
    finish = [0.0] * gpus
    for c in range(chunks):
        prefix = c * chunk
        for s, kinds_s in enumerate(stages):
            t = sum(interp(soft_points, prefix) if k == SOFTMAX else costs["lightning_chunk_s"] for k in kinds_s)
            ready = finish[s - 1] + hop if s else 0.0
            finish[s] = max(finish[s], ready) + t
    prefill_s = finish[-1]
    step = sum(interp(step_points, tokens) if k == SOFTMAX else costs["lightning_step_s"] for k in kinds)
    step += (gpus - 1) * (hidden * 2 / (link_gbps * 1e9) + 20e-6)  # activation hop + launch latency
    return {"layers": layers, "gpus": gpus, "tokens": tokens, "chunk": chunk,
            "prefill_seconds": prefill_s, "prefill_tok_s": tokens / prefill_s,
            "decode_tok_s_at_context": 1 / step, "assumed_link_gbps": link_gbps}
