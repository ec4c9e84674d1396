"""Device sampling: the same token for a row alone or batched, the right distribution, top-p."""

import torch

from minimax_cli.engine.sampling import sample_tokens, uniform_noise


def _rows(n, **kw):
    base = {"temperature": 1.0, "top_p": 1.0, "seed": 0, "step": 0}
    base.update(kw)
    return (torch.full((n,), float(base["temperature"])), torch.full((n,), float(base["top_p"])),
            torch.full((n,), base["seed"], dtype=torch.long), torch.full((n,), base["step"], dtype=torch.long))


def test_a_row_draws_the_same_token_alone_or_beside_others():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=g)
    temperature = torch.tensor([0.0, 0.7, 1.0, 1.3, 0.5, 2.0])
    top_p = torch.tensor([1.0, 0.9, 1.0, 0.5, 0.95, 1.0])
    seeds = torch.tensor([1, 2, 3, 4, 5, 6])
    steps = torch.tensor([0, 5, 9, 2, 7, 1])
    together = sample_tokens(logits, temperature, top_p, seeds, steps)
    for r in range(6):
        alone = sample_tokens(logits[r:r + 1], temperature[r:r + 1], top_p[r:r + 1], seeds[r:r + 1], steps[r:r + 1])
        assert alone.item() == together[r].item()
    assert together[0].item() == logits[0].argmax().item()  # temperature 0 is greedy


def test_draws_follow_the_softmax_and_top_p_cuts_the_tail():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    n = 20000
    t, p, seed, _ = _rows(n, seed=11)
    steps = torch.arange(n)
    counts = torch.bincount(sample_tokens(logits.expand(n, 4), t, p, seed, steps, any_top_p=False), minlength=4)
    freq = counts.double() / n
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64), atol=0.015)
    # top_p 0.7: {0.5, 0.3} is the smallest set reaching 0.7, renormalised to 5/8, 3/8
    t, p, seed, _ = _rows(n, top_p=0.7, seed=12)
    counts = torch.bincount(sample_tokens(logits.expand(n, 4), t, p, seed, steps), minlength=4)
    assert counts[2] == counts[3] == 0
    assert abs(counts[0].item() / n - 5 / 8) < 0.015


def test_noise_depends_on_seed_and_step_and_is_never_0_or_1():
    ids = torch.arange(1000)
    a = uniform_noise(torch.tensor([1]), torch.tensor([0]), ids)
    assert not torch.equal(a, uniform_noise(torch.tensor([2]), torch.tensor([0]), ids))
    assert not torch.equal(a, uniform_noise(torch.tensor([1]), torch.tensor([1]), ids))
    assert torch.equal(a, uniform_noise(torch.tensor([1]), torch.tensor([0]), ids))
    assert 0 < a.min() and a.max() < 1
    assert abs(a.mean().item() - 0.5) < 0.03
