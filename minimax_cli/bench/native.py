"""`bench prefill --compare-hf`: our stack's weights written as a native checkpoint and prefilled by
transformers' own MiniMaxForCausalLM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from minimax_cli.bench.measure import memory_report, reset_peaks, sync
from minimax_cli.bench.stack import random_tokens
from minimax_cli.engine.hybrid.model import HybridForCausalLM


def write_hf_checkpoint(model: HybridForCausalLM, config: dict, folder: Path) -> None:
    """`model`'s weights as a native (-hf) checkpoint in `folder`, bf16, one shard per layer (so
    the host copy stays one layer large), for `native_prefill`."""
    from safetensors.torch import save_file

    from minimax_cli.synthetic import to_hf_config

    folder.mkdir(parents=True, exist_ok=True)
    units: dict[str, dict[str, torch.Tensor]] = {}
    for name, param in model.named_parameters():
        units.setdefault(name.split(".")[2] if name.startswith("model.layers.") else "rest", {})[name] = param
    weight_map: dict[str, str] = {}
    for unit, tensors in units.items():
        file = f"model-{unit}.safetensors"
        save_file({n: t.detach().to("cpu", torch.bfloat16).contiguous() for n, t in tensors.items()},
                  str(folder / file))
        weight_map.update(dict.fromkeys(tensors, file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(to_hf_config(config)))


def native_prefill(folder: Path, tokens: int, device: torch.device) -> dict:
    """transformers' native MiniMaxForCausalLM from `folder`: a one-shot prefill of `tokens` random
    tokens, timed after a short warm-up. One forward is all it can do right: its chunked path
    is wrong (docs/runtime.md)."""
    from transformers import MiniMaxForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # its load report lists the decay buffers it computes itself
    native = MiniMaxForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16, device_map={"": device}).eval()
    ids = torch.tensor([list(random_tokens(tokens, native.config.vocab_size))], device=device)
    with torch.inference_mode():
        native(input_ids=ids[:, :min(tokens, 512)], use_cache=False, logits_to_keep=1)  # warm-up
        reset_peaks([device])
        sync(device)
        t0 = time.perf_counter()
        native(input_ids=ids, use_cache=False, logits_to_keep=1)
        sync(device)
    seconds = time.perf_counter() - t0
    return {"tokens": tokens, "seconds": seconds, "tok_s": tokens / seconds, "devices": memory_report([device])}
