"""Writing a whole synthetic checkpoint, and the cached ones presets name (`synth = "tiny"`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from minimax_cli.config import synth_path
from minimax_cli.progress import NULL_PROGRESS, Progress
from minimax_cli.synthetic.config import resolve_fields, synth_config, to_hf_config
from minimax_cli.synthetic.files import write_json
from minimax_cli.synthetic.tokenizer import write_tokenizer
from minimax_cli.synthetic.weights import write_weights


def write_synth_checkpoint(
    out_dir: Path,
    preset: str = "tiny",
    *,
    seed: int = 0,
    fmt: str = "original",
    shards: int = 2,
    overrides: dict | None = None,
    dtype: torch.dtype | str = torch.bfloat16,
) -> Path:
    """Write a random MiniMax-architecture checkpoint to `out_dir` and return it.

    fmt "original" writes the published remote-code config.json, "hf" the native transformers
    one; the weight files are the same (original tensor names) either way. The same arguments
    give byte-identical files.
    """
    if fmt not in ("original", "hf"):
        raise ValueError(f"fmt must be 'original' or 'hf', got {fmt!r}")
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    config = synth_config(preset, overrides, dtype=str(dtype).removeprefix("torch."))
    tokenizer_size = resolve_fields(preset, overrides)["vocab_size"]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", to_hf_config(config) if fmt == "hf" else config)
    write_tokenizer(out_dir, tokenizer_size)
    write_weights(out_dir, config, seed=seed, shards=shards, dtype=dtype)
    return out_dir



def synth_checkpoint(name: str, progress: Progress = NULL_PROGRESS) -> Path:
    """The cached synthetic checkpoint `name`, written on first use into a temporary folder and
    renamed into place, so concurrent first runs never see a half-written one."""
    final = synth_path(name)
    if (final / "config.json").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    progress.log(f"building the synthetic checkpoint {name!r} in {final}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        write_synth_checkpoint(tmp, name)
        try:
            tmp.rename(final)
        except OSError:  # another process renamed its copy first: use that one
            if not (final / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
