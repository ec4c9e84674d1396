"""`minimax bench prefill`: random tokens streamed through the stack, timed against exact FLOPs.

FLOPs are counted exactly for the work the model does per token (devicemap.layer_flops):
- projections and experts: 2 x the weights a token passes through (lightning q/k/v/gate/out,
  softmax q/k/v/o, the router, top-k experts' w1/w3/w2);
- lightning attention per head: causal intra-chunk terms 2 c D (q.k over c/2 keys, then the same
  for v, c = 64 as in fla's kernel) plus 4 D^2 (the query against the state and the state update);
- softmax attention per head at position p: 4 (p + 1) D (scores and values over every earlier key).
The roofline fraction is achieved FLOP/s over the measured bf16 matmul peak of the same GPU.
"""

from __future__ import annotations

import time

from minimax_cli.bench.measure import devices_of, matmul_peak_tflops, memory_report, reset_peaks, sync
from minimax_cli.bench.stack import random_tokens
from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import layer_flops
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.stream import prefill
from minimax_cli.progress import NULL_PROGRESS, Progress


def prefill_flops(config: HybridConfig, start: int, tokens: int) -> int:
    """FLOPs of prefilling positions [start, start + tokens) through every layer (the head runs
    only on the last position and is left out)."""
    return sum(layer_flops(config, i, tokens, start) for i in range(config.num_hidden_layers))


def bench_prefill(model: HybridForCausalLM, tokens: int, chunk: int, pipeline: bool = True,
                  progress: Progress = NULL_PROGRESS, peak_tflops: float | None = None) -> dict:
    """Stream `tokens` random tokens through the model in chunks; time, FLOPs, memory."""
    config = model.config
    devices = devices_of(model)
    peak = peak_tflops or matmul_peak_tflops(devices[0])
    warm = model.new_cache(capacity=2 * chunk)  # compile kernels (fla/Triton) outside the timing
    prefill(model, warm, random_tokens(min(chunk, tokens), config.vocab_size, 1), chunk,
            total=min(chunk, tokens), pipeline=pipeline)
    del warm
    reset_peaks(devices)
    cache = model.new_cache(capacity=tokens)
    for d in devices:
        sync(d)
    t0 = time.perf_counter()
    prefill(model, cache, random_tokens(tokens, config.vocab_size), chunk, progress, total=tokens,
            pipeline=pipeline)
    for d in devices:
        sync(d)
    seconds = time.perf_counter() - t0
    flops = prefill_flops(config, 0, tokens)
    gpus = len({d for d in devices if d.type == "cuda"}) or 1
    return {"tokens": tokens, "chunk": chunk, "seconds": seconds, "tok_s": tokens / seconds,
            "flops": flops, "tflops": flops / seconds / 1e12, "matmul_peak_tflops": peak,
            "roofline_fraction": flops / seconds / 1e12 / (peak * gpus),  # of all GPUs used
            "pipeline": pipeline and len(devices) > 1,
            "devices": memory_report(devices), "kv_cache_bytes": cache.nbytes()}
