"""Synthetic checkpoint configs: presets of the MiniMax hybrid architecture at toy sizes, in the
original (remote-code) config format or the native transformers (`-hf`) one."""

from __future__ import annotations

from typing import Any

from minimax_cli.engine.hybrid.published import minimax_layout
from minimax_cli.synthetic.tokenizer import SPECIAL_TOKENS


def _alternating_layout(num_layers: int) -> list[int]:
    """transformers' MiniMaxConfig default: layer 0 softmax, then alternating."""
    return [1 if i % 2 == 0 else 0 for i in range(num_layers)]


# Fields in the original (remote-code) names. `vocab_size` is the tokenizer's size including the
# special tokens; config.json carries it padded to a multiple of 64.
SYNTH_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 64,
        "num_hidden_layers": 8,
        "attn_type_list": minimax_layout(8),
        "num_attention_heads": 4,
        "head_dim": 16,
        "num_key_value_heads": 2,
        "rotary_dim": 8,  # half the head, like the real 64 of 128
        "rope_theta": 10_000_000,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "intermediate_size": 96,
        "vocab_size": 512,
        "max_position_embeddings": 1_000_000,
    },
}
SYNTH_PRESETS["tiny-hf-layout"] = {**SYNTH_PRESETS["tiny"], "attn_type_list": _alternating_layout(8)}
SYNTH_PRESETS["small"] = {
    **SYNTH_PRESETS["tiny"],
    "hidden_size": 256,
    "num_attention_heads": 8,
    "head_dim": 32,
    "num_key_value_heads": 2,
    "rotary_dim": 16,
    "num_local_experts": 8,
    "intermediate_size": 512,
    "vocab_size": 2048,
}

# Native (-hf) names of the original fields that differ; used both ways.
_HF_FACTOR_NAMES = {
    "layernorm_full_attention_alpha": "full_attn_alpha_factor",
    "layernorm_full_attention_beta": "full_attn_beta_factor",
    "layernorm_linear_attention_alpha": "linear_attn_alpha_factor",
    "layernorm_linear_attention_beta": "linear_attn_beta_factor",
    "layernorm_mlp_alpha": "mlp_alpha_factor",
    "layernorm_mlp_beta": "mlp_beta_factor",
}
_LAYER_TYPES = {0: "linear_attention", 1: "full_attention"}

def synth_config(preset: str = "tiny", overrides: dict | None = None, *, dtype: str = "bfloat16") -> dict[str, Any]:
    """The original-format (remote-code) config.json dict for a preset with overrides applied."""
    fields = resolve_fields(preset, overrides)
    return {
        "architectures": ["MiniMaxText01ForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_minimax_text_01.MiniMaxText01Config",
            "AutoModelForCausalLM": "modeling_minimax_text_01.MiniMaxText01ForCausalLM",
        },
        "model_type": "minimax_text_01",
        "attention_dropout": 0.0,
        "bos_token_id": None,  # null in the real configs; the runtime knows eos by name
        "eos_token_id": None,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "postnorm": True,
        "rms_norm_eps": 1e-5,
        "router_aux_loss_coef": 0.001,
        "router_jitter_noise": 0.0,
        "shared_intermediate_size": 0,
        "shared_moe_mode": "sigmoid",
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": dtype,
        "transformers_version": "4.45.2",
        "use_cache": True,
        **fields,
        # Padded like the real 200064; the tokenizer has `fields["vocab_size"]` tokens at most.
        "vocab_size": _round_up(fields["vocab_size"], 64),
    }


def resolve_fields(preset: str, overrides: dict | None) -> dict[str, Any]:
    """Preset fields with overrides applied, derived fields filled in, validated.

    Overrides may use original or native names (`layer_types`, `*_factor`). If only one of
    `num_hidden_layers` / `attn_type_list` is given, the other follows: the layer count from the
    list, or the preset's pattern repeated to the new count. DeepNorm alphas follow the layer
    count unless given. `vocab_size` stays the tokenizer's size here.
    """
    if preset not in SYNTH_PRESETS:
        raise ValueError(f"unknown synth preset {preset!r}; choose from {sorted(SYNTH_PRESETS)}")
    base = dict(SYNTH_PRESETS[preset])
    changes = _to_original_names(overrides or {})

    if "attn_type_list" in changes and "num_hidden_layers" not in changes:
        changes["num_hidden_layers"] = len(changes["attn_type_list"])
    elif "num_hidden_layers" in changes and "attn_type_list" not in changes:
        pattern = base["attn_type_list"]
        changes["attn_type_list"] = [pattern[i % len(pattern)] for i in range(changes["num_hidden_layers"])]
    fields = {**base, **changes}

    alpha = (2 * fields["num_hidden_layers"]) ** 0.25  # DeepNorm: (2 * 80) ** 0.25 = 3.5565588200778455
    deepnorm = {name: (alpha if name.endswith("alpha") else 1.0) for name in _HF_FACTOR_NAMES}
    fields = {**deepnorm, **fields}
    _validate(fields)
    return fields


def to_hf_config(config: dict[str, Any]) -> dict[str, Any]:
    """The native transformers (-hf) form of an original config: renamed fields, same values."""
    hf = {k: v for k, v in config.items() if k not in ("auto_map", "attn_type_list", "torch_dtype")}
    for original, native in _HF_FACTOR_NAMES.items():
        hf[native] = hf.pop(original)
    hf["architectures"] = ["MiniMaxForCausalLM"]
    hf["model_type"] = "minimax"
    hf["layer_types"] = [_LAYER_TYPES[t] for t in config["attn_type_list"]]
    hf["block_size"] = 256
    hf["dtype"] = config["torch_dtype"]
    hf["transformers_version"] = "4.53.0"  # the release that added MiniMax natively
    return hf


def _to_original_names(overrides: dict) -> dict:
    """Overrides with native names mapped back to the original ones."""
    native_to_original = {v: k for k, v in _HF_FACTOR_NAMES.items()}
    out = {}
    for key, value in overrides.items():
        if key == "layer_types":
            by_name = {v: k for k, v in _LAYER_TYPES.items()}
            out["attn_type_list"] = [by_name.get(t, t) for t in value]  # unknown names fail validation
        else:
            out[native_to_original.get(key, key)] = value
    return out


def _validate(f: dict) -> None:
    """Reject configs the architecture cannot express."""
    problems = []
    if len(f["attn_type_list"]) != f["num_hidden_layers"]:
        problems.append("attn_type_list must have num_hidden_layers entries")
    if any(t not in _LAYER_TYPES for t in f["attn_type_list"]):
        problems.append("attn_type_list entries must be 0 (lightning) or 1 (softmax)")
    if f["num_attention_heads"] % f["num_key_value_heads"]:
        problems.append("num_attention_heads must be a multiple of num_key_value_heads")
    if not (0 < f["rotary_dim"] <= f["head_dim"]) or f["rotary_dim"] % 2:
        problems.append("rotary_dim must be even and within head_dim")
    if not 1 <= f["num_experts_per_tok"] <= f["num_local_experts"]:
        problems.append("num_experts_per_tok must be within num_local_experts")
    if f["vocab_size"] < 256 + len(SPECIAL_TOKENS):
        problems.append(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (bytes + specials)")
    if problems:
        raise ValueError("invalid synth config: " + "; ".join(problems))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple
