"""`minimax bench generate`: requests through the scheduler together versus one after another."""

from __future__ import annotations

import time

from minimax_cli.bench.measure import devices_of, memory_report, sync
from minimax_cli.bench.stack import random_tokens
from minimax_cli.engine.hybrid.model import HybridForCausalLM


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
