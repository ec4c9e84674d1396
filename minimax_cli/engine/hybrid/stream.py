"""Streaming: chunked prefill of an unbounded token iterator, scoring, and decoding.

Prefill never holds more than one chunk of tokens and activations: a million-token document
flows through in chunks of `chunk_size`, and only the final position's hidden state is kept for
the logits. Chunk boundaries may fall anywhere (lightning states and KV carry across exactly), so
the result does not depend on the chunk size beyond floating-point rounding.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from minimax_cli.engine.hybrid.cache import HybridCache
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.progress import NULL_PROGRESS, Progress

CPU_CHUNK = 2048  # CPU: small chunks keep activations in cache; the cost is per token anyway
GPU_CHUNK = 32768  # GPU: large chunks keep the matmuls efficient (the planner's default too)


def default_chunk(device: str | None = None) -> int:
    import torch

    on_gpu = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    return GPU_CHUNK if on_gpu else CPU_CHUNK


def chunked(tokens: Iterable[int], size: int) -> Iterator[list[int]]:
    buf: list[int] = []
    for t in tokens:
        buf.append(t)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def prefill(model: HybridForCausalLM, cache: HybridCache, tokens: Iterable[int],
            chunk_size: int = CPU_CHUNK, progress: Progress = NULL_PROGRESS,
            total: int | None = None, pipeline: bool = True) -> torch.Tensor | None:
    """Feed `tokens` through the model in chunks, advancing `cache`.

    With the model on several devices and `total` known, chunks flow through them as a pipeline
    (`prefill_pipelined`). Returns the final-norm hidden state of the last token [B, C], or None
    if there were none."""
    stages = device_stages(model)
    if pipeline and total and len(stages) > 1 and total > chunk_size:
        return prefill_pipelined(model, cache, tokens, chunk_size, stages, progress, total)
    task = progress.task("prefill", total=total, unit="tokens")
    last = None
    device = model.model.embed_tokens.weight.device
    try:
        for chunk in chunked(tokens, chunk_size):
            ids = torch.tensor([chunk], dtype=torch.long, device=device)
            last = model(ids, cache)[:, -1]
            task.advance(len(chunk))
    finally:
        task.close()
    return last


def device_stages(model: HybridForCausalLM) -> list[list[int]]:
    """Runs of consecutive layers on one device, in order: the pipeline's stages."""
    stages: list[list[int]] = []
    last = None
    for i, device in enumerate(model.layer_devices()):
        if device != last:
            stages.append([])
            last = device
        stages[-1].append(i)
    return stages


def prefill_pipelined(model: HybridForCausalLM, cache: HybridCache, tokens: Iterable[int],
                      chunk_size: int, stages: list[list[int]], progress: Progress = NULL_PROGRESS,
                      total: int | None = None) -> torch.Tensor | None:
    """Prefill with one thread per stage (a GPU's layers): while stage k runs chunk c, stage k-1
    runs chunk c+1. Each stage keeps its own layers' cache; a chunk's position is passed along
    with it. Hand-offs wait on a CUDA event recorded after the producer's kernels, so no thread
    ever blocks the others' GPUs.

    The KV cache is reserved for `total` tokens up front: growing it would move tensors under a
    running stage."""
    cache.reserve(cache.length + (total or 0))
    # at most two chunks wait before each stage; the last queue carries only each chunk's final
    # hidden state, so it is unbounded and the driver can never deadlock on it
    queues = [queue.Queue(maxsize=2) for _ in range(len(stages))] + [queue.Queue()]
    errors: list[BaseException] = []
    task = progress.task("prefill", total=total, unit="tokens")

    def stage_worker(k: int) -> None:
        layers = stages[k]
        device = model.model.layers[layers[0]].input_layernorm.weight.device
        try:
            while (item := queues[k].get()) is not None:
                start, x, ready = item  # a chunk: its position, activations, and when they are ready
                if ready is not None:
                    torch.cuda.current_stream(device).wait_event(ready)
                if x.device != device:
                    # copy in, and let the copy finish before the producer's memory can be reused
                    x = x.to(device, non_blocking=True)
                    if device.type == "cuda":
                        torch.cuda.current_stream(device).synchronize()
                y = model.run_layers(x, cache, start, layers)
                n = y.shape[1]
                if k == len(stages) - 1:
                    y = y[:, -1:].clone()  # all the driver keeps
                done = None
                if device.type == "cuda":
                    done = torch.cuda.Event()
                    done.record(torch.cuda.current_stream(device))
                queues[k + 1].put((start + n, y, done) if k == len(stages) - 1 else (start, y, done))
        except BaseException as exc:  # surfaced by the driver
            errors.append(exc)
            while queues[k].get() is not None:  # drain so the driver never blocks
                pass
        queues[k + 1].put(None)

    threads = [threading.Thread(target=stage_worker, args=(k,), daemon=True) for k in range(len(stages))]
    for t in threads:
        t.start()
    last = None
    start = cache.length
    done_tokens = [start]
    device = model.model.embed_tokens.weight.device

    def collect(block: bool) -> bool:
        """Take finished chunks off the last queue; False once the end marker arrived."""
        nonlocal last
        while True:
            try:
                item = queues[-1].get(block=block)
            except queue.Empty:
                return True
            if item is None:
                return False
            end, y, ready = item  # from the last stage: where the chunk ends, its last hidden state
            if ready is not None:
                ready.synchronize()
            last = y[:, -1]
            task.advance(end - done_tokens[0])
            done_tokens[0] = end
            block = False

    try:
        for chunk in chunked(tokens, chunk_size):
            if errors:
                break
            x = model.embed(torch.tensor([chunk], dtype=torch.long, device=device))
            ready = None
            if x.is_cuda:
                ready = torch.cuda.Event()
                ready.record(torch.cuda.current_stream(x.device))
            queues[0].put((start, x, ready))
            start += len(chunk)
            collect(block=False)
        queues[0].put(None)
        while collect(block=True):
            pass
    finally:
        for t in threads:
            t.join()
        task.close()
    if errors:
        raise errors[0]
    cache.length = start
    return None if last is None else model.final_norm(last)


def score_tokens(model: HybridForCausalLM, tokens: list[int], chunk_size: int = CPU_CHUNK,
                 progress: Progress = NULL_PROGRESS, head_rows: int = 1024) -> tuple[float, int]:
    """Sum of -log p(token_t | tokens_<t) over t = 1..n-1, and the count of predicted tokens.

    The head runs over `head_rows` positions at a time so a chunk never materialises
    chunk x vocab fp32 logits at once."""
    if len(tokens) < 2:
        return 0.0, 0
    cache = model.new_cache(capacity=len(tokens))
    device = model.model.embed_tokens.weight.device
    total_nll = 0.0
    task = progress.task("score", total=len(tokens), unit="tokens")
    try:
        for start in range(0, len(tokens), chunk_size):
            chunk = tokens[start:start + chunk_size]
            hidden = model(torch.tensor([chunk], device=device), cache)[0]  # [T, C]
            targets = torch.tensor(tokens[start + 1:start + 1 + len(chunk)], device=device)
            hidden = hidden[: len(targets)]  # the document's last token predicts nothing
            for r in range(0, len(targets), head_rows):
                logp = torch.log_softmax(model.logits(hidden[r:r + head_rows]), dim=-1)
                tgt = targets[r:r + head_rows].to(logp.device)
                total_nll -= logp.gather(-1, tgt[:, None]).sum().item()
            task.advance(len(chunk))
    finally:
        task.close()
    return total_nll, len(tokens) - 1


@dataclass(frozen=True)
class Sampler:
    """Greedy when temperature == 0, else temperature + nucleus (top-p) sampling."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def generator(self, device) -> torch.Generator:
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed)
        return gen

    def pick(self, logits: torch.Tensor, gen: torch.Generator) -> int:
        """logits [V] fp32 -> token id."""
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < self.top_p  # always keeps the top one
            sorted_p = sorted_p * keep
            choice = torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)
            return int(order[choice])
        return int(torch.multinomial(probs, 1, generator=gen))


def decode(model: HybridForCausalLM, cache: HybridCache, last_hidden: torch.Tensor,
           sampler: Sampler, max_new_tokens: int, stop_ids: Iterable[int]) -> Iterator[int]:
    """Yield up to `max_new_tokens` tokens after the prefilled prompt. A stop id ends generation
    and is not yielded. The caller may stop iterating early (stop strings)."""
    stop = set(stop_ids)
    device = model.model.embed_tokens.weight.device
    logits = model.logits(last_hidden)[0]
    gen = sampler.generator(logits.device)
    for _ in range(max_new_tokens):
        token = sampler.pick(logits, gen)
        if token in stop:
            return
        yield token
        hidden = model(torch.tensor([[token]], device=device), cache)[:, -1]
        logits = model.logits(hidden)[0]


def perplexity(nll_sum: float, count: int) -> tuple[float, float]:
    """Mean NLL per predicted token and its perplexity."""
    mean = nll_sum / count if count else float("nan")
    return mean, math.exp(mean) if count else float("nan")
