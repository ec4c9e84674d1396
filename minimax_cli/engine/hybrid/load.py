"""Loading a MiniMax hybrid checkpoint folder: config migration, an empty-weight model, a device
map, and the safetensors read shard by shard into it, quantized to int8 as they arrive.

The model is built with empty (meta) weights, so it costs no memory. Each checkpoint tensor is
then placed on the device the plan gives its layer (accelerate's `set_module_tensor_to_device`)
and, for int8, its linear is quantized right away: at most one bf16 tensor exists besides the
loaded model, never the bf16 model or a bf16 layer set of one GPU. Buffers that checkpoints do
not carry (the lightning slopes) are computed last. Weights come from safetensors only.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import DeviceMap
from minimax_cli.engine.hybrid.model import HybridForCausalLM, LightningAttention
from minimax_cli.engine.hybrid.published import QUANTS
from minimax_cli.engine.hybrid.quant import quantize_linear, should_quantize
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

INDEX = "model.safetensors.index.json"


def checkpoint_shards(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint, from its index when it has one."""
    folder = Path(folder)
    index = folder / INDEX
    if index.exists():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shards = sorted({folder / name for name in weight_map.values()})
    else:
        shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "no *.safetensors weights in the checkpoint folder",
                           str(folder))
    missing = [s.name for s in shards if not s.exists()]
    if missing:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"shards named in {INDEX} are missing: "
                           f"{', '.join(missing[:3])}", str(folder))
    return shards


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """fp32 on CPU (faster than bf16 there, and exact for tests), bf16 on GPUs, unless asked."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"unknown dtype {dtype!r} (float32, bfloat16, float16)")
    return names[dtype]


class Placement:
    """Which device each checkpoint tensor goes to: the plan's GPU for its layer, the embedding
    on the first device, the final norm and head on the last."""

    def __init__(self, config: HybridConfig, plan: DeviceMap | None, device: torch.device):
        if plan is None:
            self.layers = {i: device for i in range(config.num_hidden_layers)}
            self.first = self.last = device
        else:
            self.layers = {i: torch.device(d) for i, d in plan.layer_device().items()}
            self.first, self.last = torch.device(plan.devices[0].device), torch.device(plan.devices[-1].device)

    def __call__(self, name: str) -> torch.device:
        if name.startswith("model.layers."):
            return self.layers[int(name.split(".")[2])]
        if name.startswith("model.embed_tokens"):
            return self.first
        return self.last  # model.norm, lm_head


def load_checkpoint(folder: Path, *, dtype: str | torch.dtype | None = None,
                    device: str | torch.device | None = None, plan: DeviceMap | None = None,
                    quant: str = "none", progress: Progress = NULL_PROGRESS) -> HybridForCausalLM:
    """Load a checkpoint folder (original or -hf format) onto one device, or over the GPUs of
    `plan`, with int8 linears when `quant` is "int8"."""
    if quant not in QUANTS:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    folder = Path(folder)
    config = HybridConfig.from_file(folder / "config.json")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    place = Placement(config, plan, device)
    model = empty_model(config)
    dtype = resolve_dtype(dtype, place.first)
    loaded, unexpected = _read_shards(folder, model, place, dtype, quant, progress)

    missing = sorted(n for n, p in model.named_parameters() if n not in loaded and p.is_meta)
    if config.tie_word_embeddings and missing == ["lm_head.weight"]:
        head = head_dtype(place.last, dtype)
        set_tensor(model, "lm_head.weight", model.model.embed_tokens.weight.to(head), place.last, head)
        missing = []
    if missing:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"{len(missing)} weights missing from the checkpoint, "
                           f"e.g. {', '.join(missing[:3])}", str(folder))
    if unexpected:
        progress.log(f"ignored {len(unexpected)} checkpoint tensors this architecture does not use, "
                     f"e.g. {', '.join(unexpected[:3])}")
    init_buffers(model)
    stack_experts(model)
    return model.eval()


def stack_experts(model: HybridForCausalLM) -> None:
    """Each layer's expert weights as one stacked tensor (model.SparseMoE.stack_experts), for the
    grouped decode kernels (bf16, or int8 with its scales)."""
    for layer in model.model.layers:
        layer.block_sparse_moe.stack_experts()
        release_freed_memory()  # the experts' old tensors, before the next layer's stack is made


def head_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The head's weights: the model's dtype on GPUs (logits still fp32, model.logits), fp32 on the
    CPU, which has no bf16 matmul into fp32."""
    return dtype if device.type == "cuda" else torch.float32


def empty_model(config: HybridConfig) -> HybridForCausalLM:
    """The model with meta (unallocated) weights."""
    with torch.device("meta"):
        return HybridForCausalLM(config)


def _read_shards(folder, model, place, dtype, quant, progress) -> tuple[set[str], list[str]]:
    from safetensors import safe_open

    params = {name for name, _ in model.named_parameters()}
    loaded: set[str] = set()
    unexpected: list[str] = []
    shards = checkpoint_shards(folder)
    task = progress.task("loading weights", total=len(shards), unit="shards")
    try:
        for shard in shards:
            with safe_open(str(shard), framework="pt", device="cpu") as f:
                for name in f.keys():
                    if name not in params:
                        unexpected.append(name)
                        continue
                    tensor_dtype = head_dtype(place(name), dtype) if name.startswith("lm_head") else dtype
                    set_tensor(model, name, f.get_tensor(name), place(name), tensor_dtype, shard)
                    if quant == "int8":
                        quantize_owner(model, name)
                        release_freed_memory()
                    loaded.add(name)
            release_freed_memory()
            task.advance()
    finally:
        task.close()
    return loaded, unexpected


def set_tensor(model, name: str, tensor: torch.Tensor, device, dtype, where=None) -> None:
    from accelerate.utils import set_module_tensor_to_device

    module_name, _, attr = name.rpartition(".")
    expected = getattr(model.get_submodule(module_name), attr).shape
    if tensor.shape != expected:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"{name} has shape {tuple(tensor.shape)}, the "
                           f"config implies {tuple(expected)}", str(where) if where else None)
    if torch.device(device).type == "cpu":
        # safetensors hands out views of its mmap: one kept view keeps the whole shard mapped
        tensor = tensor.to(dtype=dtype, copy=True)
    set_module_tensor_to_device(model, name, device, value=tensor, dtype=dtype)


def release_freed_memory() -> None:
    """Give freed heap memory back to the OS (glibc keeps large freed blocks otherwise), so a
    shard's temporaries do not pile up while loading on the CPU."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: nothing to do
        pass


def quantize_owner(model: HybridForCausalLM, name: str) -> None:
    """Swap the linear that owns weight `name` for its int8 version, if it is one we quantize."""
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name)
    if attr != "weight" or type(module) is not torch.nn.Linear or not should_quantize(module_name):
        return
    parent_name, _, child = module_name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, quantize_linear(module))


def init_buffers(model: HybridForCausalLM) -> None:
    """Buffers no checkpoint carries, computed on each layer's device."""
    for i, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        if isinstance(attn, LightningAttention):
            device = layer.input_layernorm.weight.device
            attn.slope = torch.tensor(model.config.slopes(i), dtype=torch.float32, device=device)
