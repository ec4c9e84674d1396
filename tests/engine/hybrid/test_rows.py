"""Many sequences in flight (scheduler + HybridRunner) give what each gives alone.

The reference for greedy decoding is `stream.decode` at batch 1 (prefill, then one token at a
time). fp32, tiny random models: argmax ties are vanishingly unlikely, so tokens must match."""

import threading

import pytest
import torch

from minimax_cli.engine.base import GenerationParams
from minimax_cli.engine.hybrid.attention import attend_reference
from minimax_cli.engine.hybrid.load import stack_experts
from minimax_cli.engine.hybrid.rows import HybridRunner
from minimax_cli.engine.hybrid.slots import SharedPrefix, SlotCache
from minimax_cli.engine.hybrid.stream import Sampler, decode, prefill
from minimax_cli.engine.scheduler import Scheduler
from minimax_cli.errors import MinimaxError
from tests.engine.hybrid.conftest import original_config, random_model

STOP = 3  # token id that ends a sequence in these tests


def letters(ids):
    return "".join(chr(97 + i % 26) for i in ids)


def scheduler_for(model, max_rows=4, chunk=16, budget=1 << 30):
    runner = HybridRunner(model, context_window=4096, chunk_size=chunk, max_rows=max_rows,
                          memory_budget=budget)
    return Scheduler(runner, letters, [STOP])


def alone(model, ids, n):
    cache = model.new_cache(capacity=len(ids) + n + 1)
    last = prefill(model, cache, ids, chunk_size=1000)
    return list(decode(model, cache, last, Sampler(), n, stop_ids=[STOP]))


@pytest.fixture(scope="module")
def model():
    model = random_model(original_config(), seed=21)
    stack_experts(model)  # as loading does: batches of 5+ rows take the every-expert MoE path
    return model


def prompts(count, seed=0, low=3, high=60):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high, (count,), generator=g).tolist()
    return [torch.randint(4, 256, (n,), generator=g).tolist() for n in lengths]


def test_thirty_two_requests_joining_and_leaving_match_one_at_a_time(model):
    reqs = prompts(32)
    budgets = [5 + (i * 7) % 23 for i in range(32)]  # rows finish at different steps
    sched = scheduler_for(model, max_rows=5, chunk=8)  # prefill in chunks while others decode
    futures = [sched.submit(ids, GenerationParams(max_new_tokens=n)) for ids, n in zip(reqs, budgets)]
    done = [f.result(timeout=300) for f in futures]
    sched.close()
    for ids, n, got in zip(reqs, budgets, done):
        want = alone(model, ids, n)
        assert got.tokens == want
        assert got.finish_reason == ("length" if len(want) == n else "stop")
        assert got.prompt_tokens == len(ids)


def test_shared_prefix_gives_the_unshared_answers_and_is_prefilled_once(model):
    doc = prompts(1, seed=1, low=90, high=91)[0]
    questions = prompts(6, seed=2, low=2, high=9)
    sched = scheduler_for(model, max_rows=3)
    futures = [sched.submit(doc + q, GenerationParams(max_new_tokens=12), shared=len(doc)) for q in questions]
    done = [f.result(timeout=300) for f in futures]
    sched.close()
    for q, got in zip(questions, done):
        assert got.tokens == alone(model, doc + q, 12)
    assert [d.cached_tokens for d in done] == [0] + [len(doc)] * 5  # the first one paid for it


def test_seeded_sampling_is_the_same_batched_or_alone(model):
    reqs = prompts(6, seed=3)
    params = [GenerationParams(max_new_tokens=15, temperature=0.9, top_p=0.8 + 0.04 * i, seed=i)
              for i in range(6)]
    sched = scheduler_for(model, max_rows=6)
    together = [f.result(timeout=300).tokens for f in
                [sched.submit(ids, p) for ids, p in zip(reqs, params)]]
    one_by_one = [sched.submit(ids, p).result(timeout=300).tokens for ids, p in zip(reqs, params)]
    sched.close()
    assert together == one_by_one
    assert len({tuple(t) for t in together}) > 1


def test_stop_strings_end_each_row_on_its_own(model):
    reqs = prompts(4, seed=4)
    free = [alone(model, ids, 20) for ids in reqs]
    # stop each row at a string from its own free-running text, at different places
    stops = [letters(t)[2 + i:4 + i] for i, t in enumerate(free)]
    sched = scheduler_for(model)
    done = [f.result(timeout=300) for f in
            [sched.submit(ids, GenerationParams(max_new_tokens=20, stop=(s,))) for ids, s in zip(reqs, stops)]]
    sched.close()
    for t, s, got in zip(free, stops, done):
        text = letters(t)
        assert got.finish_reason == "stop"
        assert got.text == text[: text.find(s)]


def test_a_request_that_cannot_run_fails_alone(model):
    reqs = prompts(3, seed=5)
    runner = HybridRunner(model, context_window=64, chunk_size=16, max_rows=4, memory_budget=1 << 30)
    sched = Scheduler(runner, letters, [STOP])
    bad_long = sched.submit(list(range(4, 100)), GenerationParams(max_new_tokens=5))
    bad_params = sched.submit(reqs[0], GenerationParams(max_new_tokens=5, top_p=0.0))
    good = [sched.submit(ids, GenerationParams(max_new_tokens=6)) for ids in reqs]
    with pytest.raises(MinimaxError, match="context window"):
        bad_long.result(timeout=300)
    with pytest.raises(MinimaxError, match="top_p"):
        bad_params.result(timeout=300)
    for ids, f in zip(reqs, good):
        assert f.result(timeout=300).tokens == alone(model, ids, 6)
    sched.close()


def test_requests_from_many_threads(model):
    reqs = prompts(8, seed=6)
    sched = scheduler_for(model, max_rows=3)
    results = [None] * len(reqs)

    def ask(i):
        results[i] = sched.submit(reqs[i], GenerationParams(max_new_tokens=7)).result(timeout=300).tokens

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sched.close()
    assert results == [alone(model, ids, 7) for ids in reqs]


def test_decode_attention_with_a_shared_prefix_matches_the_reference():
    """One decode step of rows at different lengths, some over a shared prefix, against plain
    masked attention over each row's whole sequence."""
    raw = original_config(num_hidden_layers=1, attn_type_list=[1])
    config = random_model(raw).config
    g = torch.Generator().manual_seed(7)
    H, Hkv, D, P = 4, 2, 16, 11
    prefix_cache = random_model(raw).new_cache(capacity=P + 8)
    pk, pv = torch.randn(1, Hkv, P, D, generator=g), torch.randn(1, Hkv, P, D, generator=g)
    prefix_cache.keys[0][:, :, :P], prefix_cache.values[0][:, :, :P] = pk, pv
    prefix = SharedPrefix(prefix_cache, P, {})
    slots = SlotCache(config, [torch.device("cpu")], torch.float32)
    owns, prefixes = [5, 0, 9], [prefix, None, prefix]
    full_k, full_v = [], []
    for own, pre in zip(owns, prefixes):
        source = random_model(raw).new_cache(capacity=P + own + 1)
        k, v = torch.randn(1, Hkv, own, D, generator=g), torch.randn(1, Hkv, own, D, generator=g)
        base = P if pre else 0
        source.keys[0][:, :, base:base + own], source.values[0][:, :, base:base + own] = k, v
        source.length = base + own
        slots.join(source, pre)
        full_k.append(torch.cat([pk, k], 2) if pre else k)
        full_v.append(torch.cat([pv, v], 2) if pre else v)
    q = torch.randn(3, 1, H, D, generator=g)
    newk, newv = torch.randn(3, 1, Hkv, D, generator=g), torch.randn(3, 1, Hkv, D, generator=g)
    with torch.inference_mode():
        out = slots.view().attend(0, q, newk, newv, None, scale=D ** -0.5)
        # padded to a bucket of 4 rows, as a graph is: the fourth row (a free slot) changes
        # nothing, and the prefix's attention masked per row equals it run for its rows alone
        # (the three rows' new keys are written again at the same places, with the same values)
        pad = lambda t: torch.cat([t, torch.randn(1, *t.shape[1:], generator=g)])  # noqa: E731
        static = slots.view(width=4, static=True).attend(0, pad(q), pad(newk), pad(newv), None, scale=D ** -0.5)
    assert torch.allclose(static[:3], out, atol=1e-6)
    for b in range(3):
        keys = torch.cat([full_k[b], newk[b:b + 1].transpose(1, 2)], 2)
        values = torch.cat([full_v[b], newv[b:b + 1].transpose(1, 2)], 2)
        want = attend_reference(q[b:b + 1], keys, values, keys.shape[2] - 1, scale=D ** -0.5)
        assert torch.allclose(out[b:b + 1], want, atol=1e-5)


def test_prefill_time_leaves_out_the_wait_in_the_queue(model):
    """With one row, the second request waits while the first decodes; that wait is not its
    prefill time (a batch at concurrency 64 would otherwise report queue time as prefill)."""
    first_ids, second_ids = prompts(2, seed=6, low=20, high=30)
    runner = HybridRunner(model, context_window=4096, chunk_size=64, max_rows=1, memory_budget=1 << 30)
    sched = Scheduler(runner, letters, stop_ids=[])  # no stop id: the first runs all 40 steps
    first, second = sched.submit_many([first_ids, second_ids], GenerationParams(max_new_tokens=40))
    first, second = first.result(timeout=300), second.result(timeout=300)
    sched.close()
    assert second.prefill_seconds < first.decode_seconds / 2, (second.prefill_seconds, first.decode_seconds)


def test_progress_shows_rows_running_and_waiting(model):
    class Recorder:
        def __init__(self):
            self.lines = []

        def task(self, description, total=None, unit=""):
            recorder = self

            class Task:
                def advance(self, amount=1):
                    pass

                def describe(self, text):
                    recorder.lines.append(text)

                def close(self):
                    pass

            return Task()

        def log(self, message):
            pass

    progress = Recorder()
    runner = HybridRunner(model, context_window=4096, chunk_size=16, max_rows=2, memory_budget=1 << 30)
    sched = Scheduler(runner, letters, [], progress)
    futures = [sched.submit(ids, GenerationParams(max_new_tokens=40)) for ids in prompts(4, seed=8)]
    [f.result(timeout=300) for f in futures]
    sched.close()
    assert progress.lines and progress.lines[0].startswith("generating: 2 running, ")
    assert "2 waiting" in progress.lines[0] and progress.lines[0].endswith("tokens/s")


def test_a_kept_prefix_gives_way_to_a_request_that_fits_alone(model):
    """Prefixes kept for reuse are not counted against a request's chance to ever run: the
    request that fits the budget alone evicts them and runs."""
    from minimax_cli.engine.scheduler import Request

    doc = prompts(1, seed=9, low=120, high=121)[0]
    big = prompts(1, seed=10, low=150, high=151)[0]
    params = GenerationParams(max_new_tokens=4)
    probe = HybridRunner(model, context_window=4096, chunk_size=16, max_rows=2, memory_budget=1 << 40)
    alone_bytes = probe._bytes_needed(Request(big, params), kept_prefixes=False)
    runner = HybridRunner(model, context_window=4096, chunk_size=16, max_rows=2, memory_budget=alone_bytes)
    sched = Scheduler(runner, letters, [STOP])
    for f in [sched.submit(doc + q, GenerationParams(max_new_tokens=2), shared=len(doc)) for q in ([5, 6], [7, 8])]:
        f.result(timeout=300)
    assert runner.prefixes  # kept, unused
    assert sched.submit(big, params).result(timeout=300).tokens == alone(model, big, 4)
    sched.close()
