"""`minimax bench ...`: the benchmark commands (core in the package minimax_cli/bench/)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.common import JsonObjectOpt, usage_error
from minimax_cli.cli.exit import ExitStatus

bench_app = typer.Typer(help="Throughput and memory of the hybrid runtime on random weights, its kernels, "
                        "and ingestion. Runs on CPU too (use small sizes).", no_args_is_help=True,
                        rich_markup_mode=None)

# The shape of the random stack, shared by prefill, decode and kernels.
LayersOpt = Annotated[int, typer.Option("--layers", help="Decoder layers (softmax every 8th, like the real "
                                        "model).")]
ExpertsOpt = Annotated[int, typer.Option("--experts", help="Experts per layer (the real model has 32; top-2 "
                                         "either way).")]
HiddenOpt = Annotated[int, typer.Option("--hidden", help="Hidden size (real: 6144).")]
HeadsOpt = Annotated[int, typer.Option("--heads", help="Query heads (real: 64).")]
HeadDimOpt = Annotated[int, typer.Option("--head-dim", help="Head dim (real: 128).")]
KvOpt = Annotated[int, typer.Option("--kv-heads", help="KV heads (real: 8).")]
InterOpt = Annotated[int, typer.Option("--intermediate", help="Expert width (real: 9216).")]
VocabOpt = Annotated[int, typer.Option("--vocab", help="Vocabulary (real: 200064).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="bf16 | int8 (int8 weights, bf16 activations) | fp32")]
GpusOpt = Annotated[int, typer.Option("--gpus", help="GPUs to spread the stack over by the planner.")]


def _shape(layers, experts, hidden, heads, head_dim, kv_heads, intermediate, vocab):
    from minimax_cli.bench import Shape

    return Shape(layers=layers, experts=experts, hidden=hidden, heads=heads, head_dim=head_dim,
                 kv_heads=kv_heads, intermediate=intermediate, vocab=vocab)


def _build(shape, dtype: str, gpus: int, tokens: int, chunk: int):
    import torch

    from minimax_cli.bench import bench_plan, check_host_fits, random_model

    config = shape.config()
    quant = "int8" if dtype == "int8" else "none"
    torch_dtype = {"bf16": torch.bfloat16, "int8": torch.bfloat16, "fp32": torch.float32}[dtype]
    if not torch.cuda.is_available():
        torch_dtype = torch.float32 if dtype != "bf16" else torch.bfloat16
    if not torch.cuda.is_available():
        check_host_fits(config, tokens, chunk, quant, torch_dtype)
    plan = bench_plan(config, gpus, tokens, chunk, quant) if torch.cuda.is_available() else None
    return random_model(config, plan=plan, dtype=torch_dtype, quant=quant), plan


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        console.out(json.dumps(result))
        return
    for key, value in result.items():
        console.out(f"{key:>20}: {value}")


def _emit_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        console.out(json.dumps(rows))
        return
    for row in rows:
        console.out("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


@bench_app.command("prefill")
def prefill_cmd(
    tokens: int = typer.Option(32768, "--tokens", help="Tokens to stream through the stack."),
    chunk: int = typer.Option(32768, "--chunk", help="Prefill chunk size."),
    pipeline: bool = typer.Option(True, "--pipeline/--no-pipeline", help="Overlap GPUs (chunk c on GPU 1 "
                                  "while c+1 runs on GPU 0)."),
    compare_hf: bool = typer.Option(False, "--compare-hf", help="Also run transformers' native MiniMaxForCausalLM "
                                    "on the same weights (one GPU, bf16): a one-shot prefill of --tokens, as its "
                                    "chunked path is wrong; reports ours_over_native."),
    costs: bool = typer.Option(False, "--project", help="Also measure per-layer costs and project the real "
                               "80-layer model on 8 GPUs."),
    layers: LayersOpt = 8, experts: ExpertsOpt = 4, hidden: HiddenOpt = 6144, heads: HeadsOpt = 64,
    head_dim: HeadDimOpt = 128, kv_heads: KvOpt = 8, intermediate: InterOpt = 9216, vocab: VocabOpt = 200064,
    dtype: DtypeOpt = "bf16", gpus: GpusOpt = 1, as_json: JsonObjectOpt = False,
):
    """Stream random tokens through a random-weight stack: tokens/s, exact FLOPs, fraction of the
    measured matmul peak, peak memory per device.

    Example: minimax bench prefill --tokens 1000000 --chunk 32768 --json"""
    from minimax_cli.bench import bench_prefill, layer_costs, project

    if compare_hf and (gpus != 1 or dtype != "bf16"):
        raise usage_error("--compare-hf runs on one GPU in bf16 (--gpus 1 --dtype bf16)")
    shape = _shape(layers, experts, hidden, heads, head_dim, kv_heads, intermediate, vocab)
    model, plan = _build(shape, dtype, gpus, tokens, chunk)
    result = {"shape": shape.__dict__, "dtype": dtype, "gpus": gpus,
              **bench_prefill(model, tokens, chunk, pipeline, console.make_progress())}
    if plan is not None:
        result["plan"] = [{"device": d.device, "layers": d.layers, "total_bytes": d.total_bytes}
                          for d in plan.devices]
    if costs:
        measured = layer_costs(model, chunk, [0, 131072, 262144, 524288])
        result["layer_costs"] = measured
        result["projection_80_layers_8_gpus"] = project(measured, hidden=hidden)
    if compare_hf:
        result["hf_native"] = _native(model, shape, tokens)
        result["ours_over_native"] = result["tok_s"] / result["hf_native"]["tok_s"]
    _emit(result, as_json)
    return ExitStatus.OK


def _native(model, shape, tokens: int) -> dict:
    """Our model's weights through transformers' native class; ours is freed first."""
    import gc
    import tempfile
    from pathlib import Path

    import torch

    from minimax_cli.bench import devices_of, native_prefill, write_hf_checkpoint

    device = devices_of(model)[0]
    with tempfile.TemporaryDirectory(prefix="minimax-bench-") as folder:
        write_hf_checkpoint(model, shape.config_dict(), Path(folder))
        model.to("meta")  # both copies would not fit where the real width barely does
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return native_prefill(Path(folder), tokens, device)


@bench_app.command("decode")
def decode_cmd(
    context: int = typer.Option(8192, "--context", help="Tokens prefilled before decoding."),
    new_tokens: int = typer.Option(128, "--new-tokens", help="Tokens to decode, per row."),
    batch: str = typer.Option("1", "--batch", help="Rows decoded at once; a comma-separated list measures each "
                              "(a JSON list, one object per size, with --json)."),
    distinct: bool = typer.Option(False, "--distinct",
                                  help="Each row its own prompt (default: the rows share the prompt)."),
    reference: bool = typer.Option(False, "--reference",
                                   help="The batch-1 path without the scheduler, for comparison."),
    chunk: int = typer.Option(32768, "--chunk"),
    layers: LayersOpt = 8, experts: ExpertsOpt = 4, hidden: HiddenOpt = 6144, heads: HeadsOpt = 64,
    head_dim: HeadDimOpt = 128, kv_heads: KvOpt = 8, intermediate: InterOpt = 9216, vocab: VocabOpt = 200064,
    dtype: DtypeOpt = "bf16", gpus: GpusOpt = 1, as_json: JsonObjectOpt = False,
):
    """Greedy decode tokens/s after a prefill, on random weights, for one row or many at once:
    time per step, the bytes a step must read, and their share of the device's copy bandwidth.

    Example: minimax bench decode --context 8192 --new-tokens 64 --batch 1,8,32,128"""
    from minimax_cli.bench import bench_decode, bench_decode_reference

    sizes = _sizes(batch, "--batch")
    shape = _shape(layers, experts, hidden, heads, head_dim, kv_heads, intermediate, vocab)
    rows = 1 if reference else max(sizes)
    model, _ = _build(shape, dtype, gpus, (context + new_tokens + 64) * (rows if distinct else 1), chunk)
    quant = "int8" if dtype == "int8" else "none"
    head = {"shape": shape.__dict__, "dtype": dtype, "gpus": gpus}
    if reference:
        _emit({**head, **bench_decode_reference(model, context, new_tokens, chunk)}, as_json)
    elif len(sizes) == 1:
        _emit({**head, **bench_decode(model, context, new_tokens, chunk, sizes[0], not distinct, quant)}, as_json)
    else:
        _emit_rows([{**head, **bench_decode(model, context, new_tokens, chunk, n, not distinct, quant)}
                    for n in sizes], as_json)
    return ExitStatus.OK


@bench_app.command("generate")
def generate_cmd(
    requests: int = typer.Option(64, "--requests", min=1, help="Requests, each its own random prompt."),
    prompt: int = typer.Option(2048, "--prompt", min=1, help="Prompt tokens per request."),
    new_tokens: int = typer.Option(256, "--new-tokens", min=1, help="Greedy tokens per request."),
    rows: int = typer.Option(64, "--rows", min=1, help="Rows the scheduler decodes at once."),
    chunk: int = typer.Option(32768, "--chunk"),
    layers: LayersOpt = 8, experts: ExpertsOpt = 4, hidden: HiddenOpt = 6144, heads: HeadsOpt = 64,
    head_dim: HeadDimOpt = 128, kv_heads: KvOpt = 8, intermediate: InterOpt = 9216, vocab: VocabOpt = 200064,
    dtype: DtypeOpt = "bf16", gpus: GpusOpt = 1, as_json: JsonObjectOpt = False,
):
    """Requests through the scheduler all at once versus one after another: the time of each,
    the speedup, and how many requests got the same tokens both ways.

    Example: minimax bench generate --requests 32 --prompt 2048 --new-tokens 128"""
    from minimax_cli.bench import bench_generate

    shape = _shape(layers, experts, hidden, heads, head_dim, kv_heads, intermediate, vocab)
    model, _ = _build(shape, dtype, gpus, (prompt + new_tokens + 64) * min(rows, requests), chunk)
    result = bench_generate(model, requests, prompt, new_tokens, chunk, max_rows=rows)
    _emit({"shape": shape.__dict__, "dtype": dtype, "gpus": gpus, **result}, as_json)
    return ExitStatus.OK


def _sizes(text: str, flag: str) -> list[int]:
    try:
        sizes = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise usage_error(f"{flag} takes positive whole numbers, comma-separated")
    return sizes


@bench_app.command("kernels")
def kernels_cmd(
    lengths: str = typer.Option("4096,16384,65536", "--lengths", help="Comma-separated token counts."),
    heads: HeadsOpt = 64, head_dim: HeadDimOpt = 128, as_json: JsonObjectOpt = False,
):
    """Lightning attention (blockwise torch vs fla's chunk kernel) and chunk attention against a
    prefix, at the given lengths; on a GPU also the decode matmuls (bf16 vs weight-only int8,
    dense projections and experts) in TB/s.

    Example: minimax bench kernels --lengths 4096,65536"""
    from minimax_cli.bench import bench_kernels

    rows = bench_kernels([int(n) for n in lengths.split(",") if n], heads, head_dim)
    _emit_rows(rows, as_json)
    return ExitStatus.OK


@bench_app.command("ingest")
def ingest_cmd(
    paths: list[str] = typer.Argument(..., help="PDFs, text files or folders to read."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Also time tokenization with this "
                                        "model's tokenizer."),
    as_json: JsonObjectOpt = False,
):
    """Pages/s for PDFs, files/s for repositories, tokens/s for tokenization.

    Example: minimax bench ingest samples/book.pdf samples/repo -m tiny"""
    from minimax_cli.bench import bench_ingest

    counter = None
    if model:  # the tokenizer is all tokenization needs: no weights are loaded
        from minimax_cli.engine.counter import open_counter

        counter = open_counter(model).count_tokens
    rows = bench_ingest(paths, counter)
    _emit_rows(rows, as_json)
    return ExitStatus.OK
