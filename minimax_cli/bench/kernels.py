"""`minimax bench kernels`: the lightning and chunk-attention kernels alone."""

from __future__ import annotations

import time

import torch

from minimax_cli.bench.measure import sync
from minimax_cli.engine.hybrid.devicemap import LIGHTNING_CHUNK


def bench_kernels(lengths: list[int], heads: int = 64, head_dim: int = 128, device: str | None = None) -> list[dict]:
    """Lightning (blockwise torch vs fla) and chunk attention at the given lengths."""
    from minimax_cli.engine.hybrid.attention import attend_chunk
    from minimax_cli.engine.hybrid.lightning import fla_available, lightning_blockwise, lightning_fla

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    rows = []
    for n in lengths:
        q, k, v = (torch.randn(1, n, heads, head_dim, device=dev, dtype=dtype) for _ in range(3))
        slope = torch.linspace(0.9, 0.01, heads, device=dev)
        state = torch.zeros(1, heads, head_dim, head_dim, device=dev)
        impls = {"blockwise": lightning_blockwise}
        if dev.type == "cuda" and fla_available():
            impls["fla"] = lightning_fla
        for name, fn in impls.items():
            seconds = _time(lambda: fn(q, k, v, slope, state), dev)
            flops = heads * (2 * LIGHTNING_CHUNK * head_dim + 4 * head_dim * head_dim) * n
            rows.append({"kernel": f"lightning/{name}", "tokens": n, "seconds": seconds,
                         "tok_s": n / seconds, "tflops": flops / seconds / 1e12})
        # attention: a 4K-token chunk against a prefix of n tokens
        t = min(4096, n)
        kv_heads = max(1, heads // 8)
        keys = torch.randn(1, kv_heads, n + t, head_dim, device=dev, dtype=dtype)
        values = torch.randn_like(keys)
        qa = torch.randn(1, t, heads, head_dim, device=dev, dtype=dtype)
        seconds = _time(lambda: attend_chunk(qa, keys, values, n, head_dim ** -0.5), dev)
        flops = 4 * heads * head_dim * (t * n + t * (t + 1) // 2)
        rows.append({"kernel": "attention/chunk", "tokens": n, "chunk": t, "seconds": seconds,
                     "tflops": flops / seconds / 1e12})
    return rows


def _time(fn, device, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best
