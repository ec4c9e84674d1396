"""What `minimax plan` plans for: the architecture (a checkpoint's config.json when it is on disk,
else the published architecture of the preset) and the GPUs, from flags, preset and hardware."""

from __future__ import annotations

from dataclasses import dataclass

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.published import KNOWN, QUANTS
from minimax_cli.errors import ErrorCode, MinimaxError

DEFAULT_GPU_GIB = 80.0
DEFAULT_CONTEXT = 131072


@dataclass
class PlanInputs:
    name: str
    config: HybridConfig
    config_source: str  # where the architecture came from, for the report
    gpus: int
    gpu_mem_gib: float
    context: int
    quant: str


def plan_inputs(spec: str, *, gpus: int | None, gpu_mem_gib: float | None, context: int | None,
                quant: str | None) -> PlanInputs:
    from minimax_cli.engine.factory import preset_for_path
    from minimax_cli.config import load_preset, preset_names
    from pathlib import Path

    if spec in preset_names():
        preset = load_preset(spec)
    else:
        if not Path(spec).expanduser().exists():
            raise MinimaxError(ErrorCode.MODEL_NOT_FOUND, f"{spec}: no such preset or path")
        preset = preset_for_path(Path(spec).expanduser())
    if preset.engine != "hybrid":
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"{preset.name} runs on the CPU engine; plan is for "
                           "MiniMax hybrid models")
    config, source = _architecture(preset)
    quant = quant or preset.quant
    if quant not in QUANTS:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"--quant must be one of {', '.join(QUANTS)}")
    gpus = gpus or preset.gpus or _visible_gpus() or 1
    if gpus < 1:
        raise MinimaxError(ErrorCode.BAD_REQUEST, "--gpus must be at least 1")
    context = context or preset.context_window or min(config.max_position_embeddings, DEFAULT_CONTEXT)
    return PlanInputs(preset.name, config, source, gpus, gpu_mem_gib or _visible_gpu_gib() or DEFAULT_GPU_GIB,
                      context, quant)


def _architecture(preset) -> tuple[HybridConfig, str]:
    if preset.synth:
        from minimax_cli.synthetic import synth_config

        return HybridConfig.from_dict(synth_config(preset.synth)), f"synthetic {preset.synth}"
    try:
        path = preset.checkpoint_path()
    except MinimaxError:
        if preset.name not in KNOWN:
            raise
        return HybridConfig.from_dict(KNOWN[preset.name]), "published architecture; checkpoint not on disk"
    return HybridConfig.from_file(path / "config.json"), str(path / "config.json")


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _visible_gpu_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / (1 << 30)
