"""Loading a transformers causal LM (a model folder or a .gguf file) for `HFEngine`: device and
dtype choice, transformers' GGUF reader with its progress routed to ours, the context window."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress


def pick_device() -> str:
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str | None, device: str) -> str:
    """`auto`/None -> fp32 on CPU (bf16 is 1.5-2x slower at prefill there), bf16 on CUDA."""
    if dtype in (None, "auto"):
        return "float32" if device == "cpu" else "bfloat16"
    if dtype not in ("float32", "bfloat16", "float16"):
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"unknown dtype {dtype!r}")
    return dtype


def load_pretrained(path: Path, *, dtype: str, device: str, progress: Progress = NULL_PROGRESS):
    """(model, tokenizer) from a transformers folder or a .gguf file; BAD_CHECKPOINT on failure."""
    folder, gguf = (path.parent, path.name) if path.is_file() else (path, None)
    transformers.utils.logging.disable_progress_bar()  # progress goes through `progress` only
    try:
        with _gguf_bar_to(progress) if gguf else contextlib.nullcontext():
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=gguf, dtype=getattr(torch, dtype), trust_remote_code=False
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"cannot load the model: {exc}", str(path)) from exc
    return model.to(device).eval(), tokenizer


@contextlib.contextmanager
def _gguf_bar_to(progress: Progress) -> Iterator[None]:
    """Route transformers' GGUF dequantization bar, drawn with plain tqdm outside its own
    `disable_progress_bar()` switch, into `progress`."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    def bar(iterable, desc: str = "", **_):
        task = progress.task("dequantizing GGUF tensors", len(iterable), "tensors")
        try:
            for item in iterable:
                yield item
                task.advance()
        finally:
            task.close()

    original = gguf_utils.tqdm
    gguf_utils.tqdm = bar
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def config_window(config, path: Path) -> int:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if value := getattr(config, key, None):
            return int(value)
    raise MinimaxError(
        ErrorCode.BAD_CHECKPOINT, "the model config names no context length; set context_window",
        str(path),
    )


def usable_cpus() -> int:
    # os.cpu_count() counts the machine; a container or taskset may allow fewer.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
