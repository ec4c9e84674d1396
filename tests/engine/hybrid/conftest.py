"""Small MiniMax-architecture configs and random models built in memory (no checkpoint)."""

import pytest
import torch

from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.model import HybridForCausalLM


def original_config(**overrides) -> dict:
    """A config.json dict in the original (remote-code) format, tiny sizes, real layout."""
    layers = overrides.pop("num_hidden_layers", 8)
    raw = {
        "model_type": "minimax_text_01",
        "architectures": ["MiniMaxText01ForCausalLM"],
        "attn_type_list": [1 if i % 8 == 7 else 0 for i in range(layers)],
        "num_hidden_layers": layers,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rotary_dim": 8,
        "rope_theta": 10000000,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "vocab_size": 256,
        "rms_norm_eps": 1e-5,
        "layernorm_full_attention_alpha": (2 * layers) ** 0.25,
        "layernorm_full_attention_beta": 1.0,
        "layernorm_linear_attention_alpha": (2 * layers) ** 0.25,
        "layernorm_linear_attention_beta": 1.0,
        "layernorm_mlp_alpha": (2 * layers) ** 0.25,
        "layernorm_mlp_beta": 1.0,
        "postnorm": True,
        "shared_intermediate_size": 0,
        "max_position_embeddings": 1000000,
        "eos_token_id": None,
        "hidden_act": "silu",
    }
    raw.update(overrides)
    return raw


def random_model(raw: dict, seed: int = 0, dtype=torch.float32) -> HybridForCausalLM:
    torch.manual_seed(seed)
    model = HybridForCausalLM(HybridConfig.from_dict(raw))
    with torch.no_grad():  # non-trivial norms so a wrong norm placement shows up
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    return model.to(dtype).eval()


@pytest.fixture
def make_model():
    return random_model
