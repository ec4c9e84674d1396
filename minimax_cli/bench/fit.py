"""Where a bench run goes: its multi-GPU device map, or, on the CPU, a refusal before any weight is
made when the host cannot hold it."""

from __future__ import annotations

import os

import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import (BF16, DeviceMap, GiB, activation_bytes, kv_bytes_per_token,
                                                 model_weight_bytes, plan_devices)
from minimax_cli.errors import ErrorCode, MinimaxError


def bench_plan(config: HybridConfig, gpus: int, tokens: int, chunk: int, quant: str) -> DeviceMap | None:
    """The device map for a multi-GPU bench (whole GPUs as reported by torch)."""
    if gpus <= 1:
        return None
    capacity = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
    return plan_devices(config, gpus, capacity, tokens, chunk, quant, balance="compute")


def check_host_fits(config: HybridConfig, tokens: int, chunk: int, quant: str, dtype: torch.dtype) -> None:
    """On the CPU, refuse up front a run whose weights, KV at `tokens` and one chunk's activations
    exceed 80% of the host's memory (the GPU path has the device-map plan for this)."""
    scale = dtype.itemsize / BF16  # the planner counts bf16; fp32 on the CPU takes twice that
    need = int((model_weight_bytes(config, quant) + kv_bytes_per_token(config) * tokens * len(config.softmax_layers)
                + activation_bytes(config, chunk)) * scale)
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > 0.8 * have:
        raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"this run needs about {need / GiB:.1f} GiB of host memory "
                           f"and the machine has {have / GiB:.1f} GiB: use fewer --tokens, a smaller --chunk "
                           f"or a smaller stack")
