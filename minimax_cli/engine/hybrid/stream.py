"""Streaming: chunked prefill of an unbounded token iterator, scoring, and decoding.

Prefill never holds more than one chunk of tokens and activations: a million-token document
flows through in chunks of `chunk_size`, and only the final position's hidden state is kept for
the logits. Chunk boundaries may fall anywhere (lightning states and KV carry across exactly), so
the result does not depend on the chunk size beyond floating-point rounding.
"""

from __future__ import annotations

import math
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
            total: int | None = None) -> torch.Tensor | None:
    """Feed `tokens` through the model in chunks, advancing `cache`.

    Returns the final-norm hidden state of the last token [B, C], or None if there were none."""
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
