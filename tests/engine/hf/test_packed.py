"""Packed fp32 linears and the release of a memory-mapped weight's file pages."""

import sys

import pytest
import torch

from minimax_cli.engine.hf.packed import PackedLinear, pack_linears, release_file_pages

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and madvise are Linux's")


def rss_file_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile line")


def test_packed_linears_compute_what_nn_linear_does():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.GELU(), torch.nn.Linear(96, 32, bias=False))
    x = torch.randn(2, 5, 64)
    with torch.inference_mode():
        want = model(x)
        if pack_linears(model) == 0:
            pytest.skip("this torch has no oneDNN linear ops")
        assert all(isinstance(model[i], PackedLinear) for i in (0, 2))
        for rows in (x[:1, :1], x[:1], x):  # one row (decode), a draft, a prefill chunk
            assert torch.allclose(model(rows), want[: rows.shape[0], : rows.shape[1]], rtol=1e-5, atol=1e-5)


@linux
def test_file_pages_are_released_and_read_back_the_same(tmp_path):
    path = tmp_path / "weights.bin"
    values = torch.arange(8 << 20, dtype=torch.float32)  # 32 MiB
    values.numpy().tofile(path)
    mapped = torch.from_file(str(path), shared=True, size=values.numel(), dtype=torch.float32)
    assert torch.equal(mapped, values)  # every page now resident
    before = rss_file_kib()
    released = release_file_pages(mapped)
    assert released >= 31 << 20
    assert rss_file_kib() < before - 16 * 1024  # at least 16 MiB fewer resident file pages
    assert torch.equal(mapped, values)  # faulted back in from the file


@linux
def test_anonymous_memory_is_never_released():
    values = torch.arange(4 << 20, dtype=torch.float32)
    copy = values.clone()
    assert release_file_pages(values) == 0
    assert torch.equal(values, copy)
