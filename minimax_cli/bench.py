"""`minimax bench`: throughput and memory of the hybrid runtime, its kernels, and ingestion.

Everything runs on random weights built directly on the device(s), so no checkpoint is needed and
any width can be measured; the default is the real model's width (hidden 6144, 64 x 128 heads,
8 KV heads, experts 9216 wide, top-2) with few experts and layers, which keeps the per-token FLOPs
of the real model.

FLOPs are counted exactly for the work the model does per token (devicemap.layer_flops):
- projections and experts: 2 x the weights a token passes through (lightning q/k/v/gate/out,
  softmax q/k/v/o, the router, top-k experts' w1/w3/w2);
- lightning attention per head: causal intra-chunk terms 2 c D (q.k over c/2 keys, then the same
  for v, c = 64 as in fla's kernel) plus 4 D^2 (the query against the state and the state update);
- softmax attention per head at position p: 4 (p + 1) D (scores and values over every earlier key).
The roofline fraction is achieved FLOP/s over the measured bf16 matmul peak of the same GPU.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from minimax_cli.engine.hybrid.config import SOFTMAX, HybridConfig
from minimax_cli.engine.hybrid.devicemap import (BF16, LIGHTNING_CHUNK, DeviceMap, GiB, activation_bytes, head_bytes,
                                                 kv_bytes_per_token, layer_flops, layer_weight_bytes, linear_bytes,
                                                 model_weight_bytes, plan_devices, state_bytes)
from minimax_cli.engine.hybrid.load import (Placement, empty_model, head_dtype, init_buffers, quantize_owner,
                                           set_tensor, stack_experts)
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.stream import Sampler, decode, prefill
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

@dataclass(frozen=True)
class Shape:
    """The stack to build: real width by default, `experts` of 32 and `layers` of 80 kept."""

    layers: int = 8
    experts: int = 4
    hidden: int = 6144
    heads: int = 64
    head_dim: int = 128
    kv_heads: int = 8
    intermediate: int = 9216
    vocab: int = 200064
    softmax_every: int = 8

    def config_dict(self) -> dict:
        """The stack's config.json in the published (remote-code) format."""
        alpha = (2 * self.layers) ** 0.25
        return {
            "model_type": "minimax_text_01", "torch_dtype": "bfloat16", "postnorm": True,
            "attn_type_list": [1 if i % self.softmax_every == self.softmax_every - 1 else 0
                               for i in range(self.layers)],
            "num_hidden_layers": self.layers, "hidden_size": self.hidden,
            "intermediate_size": self.intermediate, "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads, "head_dim": self.head_dim,
            "rotary_dim": self.head_dim // 2, "rope_theta": 10000000, "num_local_experts": self.experts,
            "num_experts_per_tok": 2, "vocab_size": self.vocab, "max_position_embeddings": 10240000,
            "hidden_act": "silu", "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
            **{f"layernorm_{kind}_alpha": alpha for kind in ("full_attention", "linear_attention", "mlp")},
            **{f"layernorm_{kind}_beta": 1.0 for kind in ("full_attention", "linear_attention", "mlp")},
        }

    def config(self) -> HybridConfig:
        return HybridConfig.from_dict(self.config_dict())


# ---- building ------------------------------------------------------------------------------------

def random_model(config: HybridConfig, *, plan: DeviceMap | None = None, device: str | None = None,
                 dtype: torch.dtype = torch.bfloat16, quant: str = "none", seed: int = 0) -> HybridForCausalLM:
    """The model with random weights made on the devices the plan gives (no checkpoint): linears
    N(0, 1/fan_in), norms 1, embedding N(0, 1); int8 linears quantized as they are made."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    place = Placement(config, plan, device)
    model = empty_model(config)
    gen: dict[torch.device, torch.Generator] = {}
    for name, param in list(model.named_parameters()):
        target = place(name)
        if target not in gen:
            gen[target] = torch.Generator(device=target).manual_seed(seed)
        param_dtype = head_dtype(target, dtype) if name.startswith("lm_head") else dtype
        if name.endswith("norm.weight") or "layernorm" in name:
            value = torch.ones(param.shape, device=target, dtype=param_dtype)
        else:
            std = 1.0 if "embed_tokens" in name else param.shape[-1] ** -0.5
            value = torch.randn(param.shape, device=target, dtype=param_dtype, generator=gen[target]) * std
        set_tensor(model, name, value, target, param_dtype)
        del value
        if quant == "int8":
            quantize_owner(model, name)
    init_buffers(model)
    if quant == "none":
        stack_experts(model)
    return model.eval()


# ---- counting ------------------------------------------------------------------------------------

def prefill_flops(config: HybridConfig, start: int, tokens: int) -> int:
    """FLOPs of prefilling positions [start, start + tokens) through every layer (the head runs
    only on the last position and is left out)."""
    return sum(layer_flops(config, i, tokens, start) for i in range(config.num_hidden_layers))


def matmul_peak_tflops(device: torch.device, n: int | None = None, repeats: int = 10) -> float:
    """Measured dense matmul throughput: bf16 n^3 on GPUs (8192), fp32 on the CPU (1024)."""
    if device.type == "cuda":
        n, dtype = n or 8192, torch.bfloat16
    else:
        n, dtype = n or 1024, torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n ** 3 * repeats / (time.perf_counter() - t0) / 1e12


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def devices_of(model: HybridForCausalLM) -> list[torch.device]:
    seen: list[torch.device] = []
    for d in [model.model.embed_tokens.weight.device, *model.layer_devices(), model.lm_head.weight.device]:
        if d not in seen:
            seen.append(d)
    return seen


def reset_peaks(devices) -> None:
    for d in devices:
        if d.type == "cuda":
            torch.cuda.reset_peak_memory_stats(d)


def memory_report(devices) -> list[dict]:
    return [{"device": str(d),
             "allocated_bytes": torch.cuda.memory_allocated(d) if d.type == "cuda" else None,
             "peak_mem_bytes": torch.cuda.max_memory_allocated(d) if d.type == "cuda" else None}
            for d in devices]


# ---- benchmarks -----------------------------------------------------------------------------------

def random_tokens(n: int, vocab: int, seed: int = 0):
    """`n` token ids without building them all at once."""
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, n, 65536):
        yield from torch.randint(0, vocab, (min(65536, n - start),), generator=gen).tolist()


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


def write_hf_checkpoint(model: HybridForCausalLM, config: dict, folder: Path) -> None:
    """`model`'s weights as a native (-hf) checkpoint in `folder`, bf16, one shard per layer (so
    the host copy stays one layer large), for `native_prefill`."""
    from safetensors.torch import save_file

    from minimax_cli.synthetic import to_hf_config

    folder.mkdir(parents=True, exist_ok=True)
    units: dict[str, dict[str, torch.Tensor]] = {}
    for name, param in model.named_parameters():
        units.setdefault(name.split(".")[2] if name.startswith("model.layers.") else "rest", {})[name] = param
    weight_map: dict[str, str] = {}
    for unit, tensors in units.items():
        file = f"model-{unit}.safetensors"
        save_file({n: t.detach().to("cpu", torch.bfloat16).contiguous() for n, t in tensors.items()},
                  str(folder / file))
        weight_map.update(dict.fromkeys(tensors, file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(to_hf_config(config)))


def native_prefill(folder: Path, tokens: int, device: torch.device) -> dict:
    """transformers' native MiniMaxForCausalLM from `folder`: a one-shot prefill of `tokens` random
    tokens, timed after a short warm-up. One forward is all it can do right: its chunked path
    is wrong (docs/runtime.md)."""
    from transformers import MiniMaxForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # its load report lists the decay buffers it computes itself
    native = MiniMaxForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16, device_map={"": device}).eval()
    ids = torch.tensor([list(random_tokens(tokens, native.config.vocab_size))], device=device)
    with torch.inference_mode():
        native(input_ids=ids[:, :min(tokens, 512)], use_cache=False, logits_to_keep=1)  # warm-up
        reset_peaks([device])
        sync(device)
        t0 = time.perf_counter()
        native(input_ids=ids, use_cache=False, logits_to_keep=1)
        sync(device)
    seconds = time.perf_counter() - t0
    return {"tokens": tokens, "seconds": seconds, "tok_s": tokens / seconds, "devices": memory_report([device])}


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


def copy_bandwidth(device: torch.device, gib: float = 2.0) -> float | None:
    """Bytes/s of a device-to-device copy (read + write), the decode step's practical ceiling."""
    if device.type != "cuda":
        return None
    src = torch.empty(int(gib * GiB), dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(5):
        dst.copy_(src)
    sync(device)
    return 2 * 5 * src.numel() / (time.perf_counter() - t0)


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


def bench_generate(model: HybridForCausalLM, requests: int, prompt: int, new_tokens: int, chunk: int,
                   max_rows: int = 64) -> dict:
    """`requests` requests of `prompt` random tokens and `new_tokens` greedy tokens each, through
    the scheduler at once and then one after another (each alone through the same scheduler);
    the speedup, and whether every request got the same tokens both ways."""
    from minimax_cli.engine.base import GenerationParams
    from minimax_cli.engine.hybrid.rows import HybridRunner
    from minimax_cli.engine.scheduler import Scheduler

    vocab = model.config.vocab_size
    prompts = [list(random_tokens(prompt, vocab, seed=r + 1)) for r in range(requests)]
    params = GenerationParams(max_new_tokens=new_tokens)
    devices = devices_of(model)

    def scheduler() -> Scheduler:
        runner = HybridRunner(model, context_window=prompt + new_tokens + 64, chunk_size=chunk,
                              max_rows=max_rows, memory_budget=1 << 50)
        return Scheduler(runner, lambda ids: "", stop_ids=[])  # every request runs its full length

    def timed(run) -> tuple[float, list[list[int]]]:
        sched = scheduler()
        run(sched, prompts[:1])  # warm-up
        for d in devices:
            sync(d)
        t0 = time.perf_counter()
        tokens = run(sched, prompts)
        for d in devices:
            sync(d)
        sched.close()
        return time.perf_counter() - t0, tokens

    together_s, together = timed(lambda s, ps: [f.result().tokens for f in [s.submit(p, params) for p in ps]])
    alone_s, alone = timed(lambda s, ps: [s.submit(p, params).result().tokens for p in ps])
    return {"requests": requests, "prompt": prompt, "new_tokens": new_tokens, "max_rows": max_rows,
            "together_seconds": together_s, "one_after_another_seconds": alone_s,
            "speedup": alone_s / together_s, "same_tokens": sum(a == b for a, b in zip(together, alone)),
            "together_tok_s": requests * new_tokens / together_s, "devices": memory_report(devices)}


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


def bench_ingest(paths: list[str], tokenizer=None) -> list[dict]:
    """Pages/s for PDFs, files/s for folders, and tokens/s of tokenization when a tokenizer is given."""
    from minimax_cli.sources import load_document

    rows = []
    for path in paths:
        t0 = time.perf_counter()
        doc = load_document(path)
        seconds = time.perf_counter() - t0
        row = {"path": path, "kind": doc.kind, "seconds": seconds, "segments": len(doc.segments)}
        if doc.pages:
            row["pages_s"] = doc.pages / seconds
        if doc.files:
            row["files_s"] = len(doc.files) / seconds
        if tokenizer is not None:
            text = doc.text
            t0 = time.perf_counter()
            n = tokenizer(text)
            row["tokens"] = n
            row["tokens_s"] = n / (time.perf_counter() - t0)
        rows.append(row)
    return rows


def bench_plan(config: HybridConfig, gpus: int, tokens: int, chunk: int, quant: str) -> DeviceMap | None:
    """The device map for a multi-GPU bench (whole GPUs as reported by torch)."""
    if gpus <= 1:
        return None
    capacity = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
    return plan_devices(config, gpus, capacity, tokens, chunk, quant, balance="compute")


def check_host_fits(config: HybridConfig, tokens: int, chunk: int, quant: str, dtype: torch.dtype) -> None:
    """On the CPU, refuse up front a run whose weights, KV at `tokens` and one chunk's activations
    exceed 80% of the host's memory (the GPU path has the device-map plan for this)."""
    scale = dtype.itemsize / BF16  # the planner counts bf16; fp32 on the CPU takes twice that
    need = int((model_weight_bytes(config, quant) + kv_bytes_per_token(config) * tokens * len(config.softmax_layers)
                + activation_bytes(config, chunk)) * scale)
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > 0.8 * have:
        raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"this run needs about {need / GiB:.1f} GiB of host memory "
                           f"and the machine has {have / GiB:.1f} GiB: use fewer --tokens, a smaller --chunk "
                           f"or a smaller stack")
