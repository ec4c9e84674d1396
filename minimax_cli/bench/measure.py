"""What every benchmark measures with: device syncs, peak memory per device, and the device's own
ceilings (measured matmul peak, copy bandwidth) that results are set against."""

from __future__ import annotations

import time

import torch

from minimax_cli.engine.hybrid.devicemap import GiB
from minimax_cli.engine.hybrid.model import HybridForCausalLM


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def devices_of(model: HybridForCausalLM) -> list[torch.device]:
    seen: list[torch.device] = []
    for d in [model.model.embed_tokens.weight.device, *model.layer_devices(), model.lm_head.weight.device]:
        if d not in seen:
            seen.append(d)
    return seen


def reset_peaks(devices) -> None:
    for d in devices:
        if d.type == "cuda":
            torch.cuda.reset_peak_memory_stats(d)


def memory_report(devices) -> list[dict]:
    return [{"device": str(d),
             "allocated_bytes": torch.cuda.memory_allocated(d) if d.type == "cuda" else None,
             "peak_mem_bytes": torch.cuda.max_memory_allocated(d) if d.type == "cuda" else None}
            for d in devices]


def matmul_peak_tflops(device: torch.device, n: int | None = None, repeats: int = 10) -> float:
    """Measured dense matmul throughput: bf16 n^3 on GPUs (8192), fp32 on the CPU (1024)."""
    if device.type == "cuda":
        n, dtype = n or 8192, torch.bfloat16
    else:
        n, dtype = n or 1024, torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n ** 3 * repeats / (time.perf_counter() - t0) / 1e12


def copy_bandwidth(device: torch.device, gib: float = 2.0) -> float | None:
    """Bytes/s of a device-to-device copy (read + write), the decode step's practical ceiling."""
    if device.type != "cuda":
        return None
    src = torch.empty(int(gib * GiB), dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(5):
        dst.copy_(src)
    sync(device)
    return 2 * 5 * src.numel() / (time.perf_counter() - t0)
