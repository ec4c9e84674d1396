"""`minimax bench` on the CPU at toy sizes: the commands run, count what they claim, and the
native comparison runs transformers' class on exactly our weights."""

import json

import pytest
import torch
from typer.testing import CliRunner

from minimax_cli.bench import Shape, prefill_flops, random_model, write_hf_checkpoint
from minimax_cli.cli.app import app
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.engine.hybrid.load import load_checkpoint

runner = CliRunner()
TOY = ["--layers", "8", "--experts", "2", "--hidden", "64", "--heads", "4", "--head-dim", "16",
       "--kv-heads", "2", "--intermediate", "64", "--vocab", "512"]
TOY_SHAPE = Shape(layers=8, experts=2, hidden=64, heads=4, head_dim=16, kv_heads=2, intermediate=64, vocab=512)


def bench(*args) -> dict:
    result = runner.invoke(app, ["bench", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_prefill_counts_the_flops_of_every_token():
    out = bench("prefill", *TOY, "--tokens", "600", "--chunk", "256")
    assert out["tokens"] == 600 and out["chunk"] == 256 and out["pipeline"] is False
    assert out["flops"] == prefill_flops(TOY_SHAPE.config(), 0, 600)
    assert out["tok_s"] > 0 and abs(out["tflops"] - out["flops"] / out["seconds"] / 1e12) < 1e-9
    assert out["kv_cache_bytes"] > 0  # the softmax layer (layer 7) kept 600 keys and values


def test_compare_hf_runs_the_native_class():
    out = bench("prefill", *TOY, "--tokens", "600", "--chunk", "256", "--compare-hf")
    native = out["hf_native"]
    assert native["tokens"] == 600 and native["tok_s"] > 0
    assert abs(out["ours_over_native"] - out["tok_s"] / native["tok_s"]) < 1e-9


def test_compare_hf_is_refused_where_it_cannot_run():
    result = runner.invoke(app, ["bench", "prefill", *TOY, "--tokens", "64", "--dtype", "int8", "--compare-hf"])
    assert result.exit_code == ExitStatus.USAGE and "one GPU in bf16" in result.stderr


def test_the_native_checkpoint_holds_our_weights(tmp_path):
    model = random_model(TOY_SHAPE.config(), device="cpu", dtype=torch.bfloat16)
    write_hf_checkpoint(model, TOY_SHAPE.config_dict(), tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "minimax"
    back = dict(load_checkpoint(tmp_path, dtype="bfloat16", device="cpu").named_parameters())
    ours = dict(model.named_parameters())
    assert back.keys() == ours.keys()
    for name, value in ours.items():
        assert torch.equal(back[name].float(), value.to(torch.bfloat16).float()), name


def test_decode_and_kernels_and_ingest():
    out = bench("decode", *TOY, "--context", "100", "--new-tokens", "5", "--chunk", "64")
    assert out["new_tokens"] == 5 and out["tok_s"] > 0
    rows = bench("kernels", "--lengths", "128", "--heads", "2", "--head-dim", "16")
    assert rows and all(row["tokens"] == 128 for row in rows)
    rows = bench("ingest", "samples/book.pdf", "samples/repo")
    assert {row["kind"] for row in rows} >= {"pdf", "repo"} and all(row["seconds"] > 0 for row in rows)


def test_generate_runs_requests_together_and_alone_with_the_same_tokens():
    from minimax_cli.bench import bench_generate

    model = random_model(TOY_SHAPE.config(), dtype=torch.float32, device="cpu")
    out = bench_generate(model, requests=6, prompt=40, new_tokens=6, chunk=64, max_rows=4)
    assert out["requests"] == 6 and out["same_tokens"] == 6
    assert out["speedup"] == out["one_after_another_seconds"] / out["together_seconds"]


def test_decode_bytes_per_step_count_the_experts_the_rows_can_reach():
    from minimax_cli.bench import step_bytes
    from minimax_cli.engine.hybrid.devicemap import kv_bytes_per_token

    model = random_model(TOY_SHAPE.config(), dtype=torch.float32, device="cpu")
    config = model.config
    one, many = step_bytes(model, 1, 100, True, "none"), step_bytes(model, 4, 100, True, "none")
    # 2 experts, top-2: one row already reaches both, so more rows add only their states
    assert many - one == 3 * (step_bytes(model, 2, 100, True, "none") - one)
    distinct = step_bytes(model, 4, 100, False, "none")
    assert distinct - many == 3 * kv_bytes_per_token(config) * 100 * len(config.softmax_layers)


def test_decode_measures_each_batch_size_and_generate_compares_the_two_ways():
    rows = json.loads(runner.invoke(app, ["bench", "decode", *TOY, "--context", "64", "--new-tokens", "4",
                                          "--batch", "1,3", "--json"]).stdout)
    assert [r["batch"] for r in rows] == [1, 3] and all(r["step_bytes"] > 0 for r in rows)
    assert rows[1]["step_bytes"] > rows[0]["step_bytes"]  # the third row's states at least
    out = bench("generate", *TOY, "--requests", "3", "--prompt", "20", "--new-tokens", "4", "--rows", "2")
    assert out["requests"] == 3 and out["same_tokens"] == 3 and out["speedup"] > 0
    bad = runner.invoke(app, ["bench", "decode", *TOY, "--batch", "0,2"])
    assert bad.exit_code == ExitStatus.USAGE and "--batch" in bad.stderr


def test_a_run_the_host_cannot_hold_is_refused_before_it_starts(monkeypatch):
    """The README's 1M-token example on a CPU machine: one line, before any weight is made."""
    import minimax_cli.bench as bench_module
    from minimax_cli.bench import fit

    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": (24 << 30) // 4096}  # a 24 GiB machine
    monkeypatch.setattr(fit.os, "sysconf", lambda name: pages[name])
    monkeypatch.setattr(bench_module, "random_model", lambda *a, **k: pytest.fail("built the model"))
    result = runner.invoke(app, ["bench", "prefill", "--tokens", "1000000", "--json"])
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr.count("\n") == 1 and "GiB of host memory" in result.stderr and not result.stdout
