"""`minimax --version`: minimax-cli's version and those of what it runs on, one `name version` a
line, the first line `minimax VERSION` as before (scripts read it). What a bug report needs."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import minimax_cli

# Distributions on a line of their own after torch's CUDA line; the optional ones (extras) say
# "not installed".
LIBRARIES = ("transformers", "fla-core", "optimum-quanto", "openvino-genai")


def distribution_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def package_version() -> str:
    try:
        return version("minimax-cli")
    except PackageNotFoundError:  # a source tree that was never installed
        return minimax_cli.__version__


def cuda() -> str:
    """The CUDA version torch was built for, and how many GPUs it sees."""
    try:
        import torch
    except Exception as exc:  # not installed, or broken: --version must still answer
        return f"unknown (torch cannot be imported: {type(exc).__name__})"
    if torch.version.cuda is None:
        return "none (a CPU-only torch build)"
    gpus = torch.cuda.device_count()  # asks NVML; does not initialise CUDA
    return f"{torch.version.cuda} ({gpus or 'no'} GPU{'' if gpus == 1 else 's'} visible)"


def report() -> str:
    lines = [f"minimax {package_version()}", f"python {platform.python_version()}",
             f"torch {distribution_version('torch')}", f"cuda {cuda()}"]
    lines += [f"{name} {distribution_version(name)}" for name in LIBRARIES]
    return "\n".join(lines)
