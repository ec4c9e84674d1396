"""`minimax bench kernels`: the lightning and chunk-attention kernels alone, and on a GPU the decode
matmuls (int8 against bf16)."""

from __future__ import annotations

import time

import torch

from minimax_cli.bench.measure import sync
from minimax_cli.engine.hybrid.devicemap import LIGHTNING_CHUNK


def bench_kernels(lengths: list[int], heads: int = 64, head_dim: int = 128, device: str | None = None) -> list[dict]:
    """Lightning (blockwise torch vs fla) and chunk attention at the given lengths; on CUDA also
    the decode matmuls (`bench_decode_kernels`)."""
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
    if dev.type == "cuda":
        rows += bench_decode_kernels([1, 8, 64], device=str(dev))
    return rows


def bench_decode_kernels(batches: list[int], experts: int = 4, hidden: int = 6144, inter: int = 9216,
                         device: str | None = None) -> list[dict]:
    """A decode step's matmuls at the real width, each alone, bf16 against weight-only int8: the
    attention projections (cuBLAS against int8_matmul) and the experts the rows reach (the grouped
    kernels), in weight bytes read per second."""
    from minimax_cli.engine.hybrid.grouped_experts import grouped_experts
    from minimax_cli.engine.hybrid.int8_matmul import int8_matmul

    dev = torch.device(device or "cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    rows = []
    for m in batches:
        for name, (n, k) in {"qkv": (3 * 8192, hidden), "gate": (8192, hidden), "out": (hidden, 8192)}.items():
            x = torch.randn(m, k, device=dev, generator=g, dtype=torch.bfloat16)
            copies = _copies(n * k)
            w16 = [torch.randn(n, k, device=dev, generator=g, dtype=torch.bfloat16) for _ in range(copies)]
            w8 = [torch.randint(-127, 128, (n, k), device=dev, generator=g, dtype=torch.int8) for _ in range(copies)]
            scale = torch.rand(n, device=dev, generator=g, dtype=torch.bfloat16) / 100
            t16 = _replayed([lambda w=w: torch.nn.functional.linear(x, w) for w in w16])
            t8 = _replayed([lambda w=w: int8_matmul(x, w, scale) for w in w8])
            rows.append(_versus(f"dense/{name}", m, n * k, t16, t8))
        x = torch.randn(m, hidden, device=dev, generator=g, dtype=torch.bfloat16)
        weights, chosen = torch.topk(torch.randn(m, experts, device=dev, generator=g).softmax(-1), 2, -1)
        shapes = [(experts, inter, hidden), (experts, inter, hidden), (experts, hidden, inter)]
        w16 = [torch.randn(s, device=dev, generator=g, dtype=torch.bfloat16) for s in shapes]
        w8 = [torch.randint(-127, 128, s, device=dev, generator=g, dtype=torch.int8) for s in shapes]
        scales = [torch.rand(s[:2], device=dev, generator=g, dtype=torch.bfloat16) / 100 for s in shapes]
        t16 = _replayed([lambda: grouped_experts(x, chosen, weights, w16)])
        t8 = _replayed([lambda: grouped_experts(x, chosen, weights, w8, scales)])
        rows.append(_versus(f"experts/{experts}", m, chosen.unique().numel() * 3 * inter * hidden, t16, t8))
        del w16, w8
    return rows


def _copies(weights: int, cache_bytes: int = 240 << 20) -> int:
    """Copies of a weight to go round, so that a call finds none of its weights still in the L2."""
    return max(1, -(-cache_bytes // weights))


def _replayed(calls, repeats: int = 20) -> float:
    """Seconds a call, the calls replayed as one CUDA graph (launches cost what they cost in decode)."""
    for call in calls:
        call()  # tunes and compiles outside the graph
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for call in calls:
            call()
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000 / (repeats * len(calls))


def _versus(kernel: str, rows: int, weights: int, bf16_s: float, int8_s: float) -> dict:
    """A row of results: times, weight bytes a second (2 a weight in bf16, 1 in int8), speedup."""
    return {"kernel": kernel, "rows": rows, "bf16_us": bf16_s * 1e6, "int8_us": int8_s * 1e6,
            "bf16_tbs": 2 * weights / bf16_s / 1e12, "int8_tbs": weights / int8_s / 1e12,
            "int8_speedup": bf16_s / int8_s}


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
