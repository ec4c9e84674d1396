"""The model itself rather than a document job: `models` (presets) and `models synth` (random
checkpoints), `score` (NLL of a text under a checkpoint) and `plan` (the device map over GPUs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from minimax_cli.cli import console
from minimax_cli.cli.common import JsonObjectOpt, QuantOpt, QuietOpt, open_engine, read_text_file, usage_error
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.errors import printable

models_app = typer.Typer(help="List model presets and where their files are; create synthetic checkpoints.",
                         invoke_without_command=True, no_args_is_help=False, rich_markup_mode=None)


@models_app.callback()
def models(ctx: typer.Context,
           as_json: Annotated[bool, typer.Option("--json", help="One JSON object per preset, one per "
                                                 "line.")] = False) -> int | None:
    """List model presets: engine, description, where their files are and whether they are present.

    Example: minimax models"""
    if ctx.invoked_subcommand is not None:
        return None
    from minimax_cli.engine.factory import list_models

    for entry in list_models():
        if as_json:
            console.out(json.dumps(entry, ensure_ascii=False))
        else:
            mark = "ok" if entry["present"] else "--"
            console.out(f"{mark} {entry['name']:<16} {entry['engine']:<7} {entry['description']}")
            where = printable(entry["location"] or "")  # from an environment variable: may hold anything
            note = f"  ({entry['note']})" if entry["note"] else ""
            console.out(f"   {'':<16} {'':<7} {where}{note}")
    return ExitStatus.OK


@models_app.command("synth")
def models_synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the checkpoint into (must not exist or be empty).")],
    preset: Annotated[str, typer.Option("--preset", help="tiny | tiny-hf-layout | small")] = "tiny",
    fmt: Annotated[str, typer.Option("--format", help="original (remote-code config) | hf (native "
                                     "names)")] = "original",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> int:
    """Write a random small checkpoint of the MiniMax architecture (config, safetensors, a byte-level
    BPE tokenizer with the MiniMax special tokens and chat template) for tests and demos.

    Example: minimax models synth --preset tiny /tmp/tiny && minimax score --model /tmp/tiny samples/book.txt"""
    from minimax_cli.errors import ErrorCode, MinimaxError
    from minimax_cli.synthetic import SYNTH_PRESETS, write_synth_checkpoint

    if preset not in SYNTH_PRESETS:
        raise usage_error(f"unknown synth preset {preset!r} (one of {', '.join(SYNTH_PRESETS)})")
    if out.exists() and any(out.iterdir()):
        raise MinimaxError(ErrorCode.BAD_REQUEST, "output folder exists and is not empty", str(out))
    folder = write_synth_checkpoint(out, preset, seed=seed, fmt=fmt)
    console.out(printable(str(folder)))
    return ExitStatus.OK


def score(
    file: Annotated[Path, typer.Argument(help="A text file to score.")],
    model: Annotated[str, typer.Option("--model", "-m", help="A hybrid checkpoint folder or preset.")],
    chunk: Annotated[Optional[int], typer.Option("--chunk", help="Prefill chunk size in tokens; the answer "
                                                 "must not depend on it.")] = None,
    quant: QuantOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: tokens, nll, ppl.")] = False,
    quiet: QuietOpt = False,
) -> int:
    """Mean negative log-likelihood per predicted token of a file's text under the model (its own
    tokenizer, no chat template). Checks a deployment or a quantization.

    Example: minimax score --model /tmp/tiny samples/book.txt --chunk 512 --json"""
    text = read_text_file(file)
    if chunk is not None and chunk < 1:
        raise usage_error("--chunk must be at least 1")
    engine = open_engine(model, quant, console.make_progress(quiet))
    if not hasattr(engine, "score"):
        raise usage_error(f"{engine.info.name} is not a hybrid checkpoint: score runs on the MiniMax runtime")
    result = engine.score(text, chunk_size=chunk, progress=console.make_progress(quiet))
    if as_json:
        console.out(json.dumps({"tokens": result["tokens"], "nll": result["nll"], "ppl": result["ppl"],
                                "model": engine.info.name, "chunk": chunk or engine.chunk_size}))
    else:
        console.out(f"tokens {result['tokens']}  nll {result['nll']:.6f}  ppl {result['ppl']:.4f}")
    return ExitStatus.OK


def plan(
    model: Annotated[str, typer.Argument(help="A hybrid preset (minimax-text-01, ...) or checkpoint folder.")],
    gpus: Annotated[int, typer.Option("--gpus", help="Number of GPUs (default: the preset's, else the visible "
                                      "ones).")] = None,
    gpu_mem: Annotated[Optional[float], typer.Option("--gpu-mem", help="GiB per GPU (default: the first "
                                                     "visible GPU's, else 80).")] = None,
    context: Annotated[Optional[int], typer.Option("--context", help="Tokens of context to hold (default: the "
                                                   "preset's context window).")] = None,
    chunk: Annotated[int, typer.Option("--chunk", help="Prefill chunk size in tokens (sets the activation "
                                       "headroom).")] = 32768,
    quant: Annotated[Optional[str], typer.Option("--quant", help="int8 | none (default: the preset's).")] = None,
    balance: Annotated[str, typer.Option("--balance", help="compute: cut layers by prefill work where memory "
                                         "allows (what the engine loads) | bytes: by memory.")] = "compute",
    as_json: JsonObjectOpt = False,
) -> int:
    """Plan the model over GPUs: layers per GPU balanced by bytes, with each GPU's weights, KV cache
    at the planned context, lightning states and activation headroom. Exits 6 when it does not fit,
    saying by how much and what would.

    Example: minimax plan minimax-text-01 --gpus 8 --gpu-mem 141 --context 1000000"""
    from minimax_cli.engine.hybrid.devicemap import GiB, plan_devices
    from minimax_cli.engine.planning import plan_inputs

    inputs = plan_inputs(model, gpus=gpus, gpu_mem_gib=gpu_mem, context=context, quant=quant)
    if balance not in ("compute", "bytes"):
        raise usage_error("--balance must be compute or bytes")
    the_plan = plan_devices(inputs.config, inputs.gpus, int(inputs.gpu_mem_gib * GiB), inputs.context,
                            chunk, inputs.quant, balance=balance)
    if as_json:
        console.out(json.dumps({"model": inputs.name, **the_plan.to_dict()}))
    else:
        _print_plan(inputs, the_plan)
    return ExitStatus.OK if the_plan.fits else ExitStatus.NO_FIT


def _print_plan(inputs, plan) -> None:
    from minimax_cli.engine.hybrid.devicemap import GiB

    def gib(n):
        return f"{n / GiB:7.1f}G"

    console.out(f"{printable(inputs.name)}: {plan.quant}, context {plan.context:,} tokens, chunk {plan.chunk:,}, "
                f"{inputs.gpus} GPU{'s' if inputs.gpus > 1 else ''} x {inputs.gpu_mem_gib:g} GiB"
                f" ({printable(str(inputs.config_source))})")
    console.out(f"{'device':<8} {'layers':<9} {'weights':>8} {'kv':>8} {'state':>8} {'headroom':>9} "
                f"{'total':>8} {'capacity':>9}")
    for d in plan.devices:
        layers = f"{d.layers[0]}-{d.layers[-1]}" if d.layers else "-"
        extra = "+embed" if d.holds_embed else ""
        extra += "+head" if d.holds_head else ""
        mark = "" if d.total_bytes <= d.capacity_bytes else "  OVER"
        console.out(f"{d.device:<8} {layers:<9} {gib(d.weights_bytes)} {gib(d.kv_bytes)} {gib(d.state_bytes)} "
                    f"{gib(d.headroom_bytes)}  {gib(d.total_bytes)} {gib(d.capacity_bytes)}  {extra}{mark}")
    console.out(f"weights in all: {plan.weights_bytes / GiB:.1f} GiB")
    if plan.fits:
        console.out("fits: yes")
    else:
        console.out(f"fits: no, {plan.shortfall_bytes / GiB:.1f} GiB over on the fullest GPU; "
                    f"would fit: {'; '.join(plan.advice)}")
