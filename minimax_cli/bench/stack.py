"""The stack a benchmark runs: its shape, random weights made directly on the device(s) (no
checkpoint, so any width can be measured), and random token streams.

The default shape is the real model's width (hidden 6144, 64 x 128 heads, 8 KV heads, experts 9216
wide, top-2) with few experts and layers, which keeps the per-token FLOPs of the real model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import DeviceMap
from minimax_cli.engine.hybrid.load import (Placement, empty_model, head_dtype, init_buffers, quantize_owner,
                                           set_tensor, stack_experts)
from minimax_cli.engine.hybrid.model import HybridForCausalLM


@dataclass(frozen=True)
class Shape:
    """The stack to build: real width by default, `experts` of 32 and `layers` of 80 kept."""

    layers: int = 8
    experts: int = 4
    hidden: int = 6144
    heads: int = 64
    head_dim: int = 128
    kv_heads: int = 8
    intermediate: int = 9216
    vocab: int = 200064
    softmax_every: int = 8

    def config_dict(self) -> dict:
        """The stack's config.json in the published (remote-code) format."""
        alpha = (2 * self.layers) ** 0.25
        return {
            "model_type": "minimax_text_01", "torch_dtype": "bfloat16", "postnorm": True,
            "attn_type_list": [1 if i % self.softmax_every == self.softmax_every - 1 else 0
                               for i in range(self.layers)],
            "num_hidden_layers": self.layers, "hidden_size": self.hidden,
            "intermediate_size": self.intermediate, "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads, "head_dim": self.head_dim,
            "rotary_dim": self.head_dim // 2, "rope_theta": 10000000, "num_local_experts": self.experts,
            "num_experts_per_tok": 2, "vocab_size": self.vocab, "max_position_embeddings": 10240000,
            "hidden_act": "silu", "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
            **{f"layernorm_{kind}_alpha": alpha for kind in ("full_attention", "linear_attention", "mlp")},
            **{f"layernorm_{kind}_beta": 1.0 for kind in ("full_attention", "linear_attention", "mlp")},
        }

    def config(self) -> HybridConfig:
        return HybridConfig.from_dict(self.config_dict())


def random_model(config: HybridConfig, *, plan: DeviceMap | None = None, device: str | None = None,
                 dtype: torch.dtype = torch.bfloat16, quant: str = "none", seed: int = 0) -> HybridForCausalLM:
    """The model with random weights made on the devices the plan gives (no checkpoint): linears
    N(0, 1/fan_in), norms 1, embedding N(0, 1); int8 linears quantized as they are made."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    place = Placement(config, plan, device)
    model = empty_model(config)
    gen: dict[torch.device, torch.Generator] = {}
    for name, param in list(model.named_parameters()):
        target = place(name)
        if target not in gen:
            gen[target] = torch.Generator(device=target).manual_seed(seed)
        param_dtype = head_dtype(target, dtype) if name.startswith("lm_head") else dtype
        if name.endswith("norm.weight") or "layernorm" in name:
            value = torch.ones(param.shape, device=target, dtype=param_dtype)
        else:
            std = 1.0 if "embed_tokens" in name else param.shape[-1] ** -0.5
            value = torch.randn(param.shape, device=target, dtype=param_dtype, generator=gen[target]) * std
        set_tensor(model, name, value, target, param_dtype)
        del value
        if quant == "int8":
            quantize_owner(model, name)
    init_buffers(model)
    stack_experts(model)
    return model.eval()


def random_tokens(n: int, vocab: int, seed: int = 0):
    """`n` token ids without building them all at once."""
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, n, 65536):
        yield from torch.randint(0, vocab, (min(65536, n - start),), generator=gen).tolist()
