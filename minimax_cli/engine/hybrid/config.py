"""The MiniMax hybrid architecture's settings, read from either published config format.

Two formats exist for the same weights:
- original (remote code; `model_type` `minimax_text_01` or `minimax_m1`): `attn_type_list` (0 =
  lightning, 1 = softmax), `layernorm_{full_attention,linear_attention,mlp}_{alpha,beta}`,
  `rotary_dim`, `postnorm`, `shared_intermediate_size`;
- native transformers (`-hf` repos; `model_type` `minimax`): `layer_types`, `*_alpha_factor` /
  `*_beta_factor`, rope settings possibly under `rope_parameters`.

`HybridConfig.from_dict` migrates both into one typed config and refuses, with a one-line reason,
what this runtime does not implement. Feeding the original dict to transformers' `MiniMaxConfig`
silently gives alternating layers and factors of 1 (docs/runtime.md), which is why
this migration is explicit and strict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.hybrid.published import MODEL_TYPES, NATIVE_TYPE, ORIGINAL_TYPES
from minimax_cli.errors import ErrorCode, MinimaxError

LIGHTNING = "lightning"
SOFTMAX = "softmax"



@dataclass(frozen=True)
class HybridConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int  # per expert
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rotary_dim: int  # RoPE rotates the first rotary_dim dims of each head; the rest pass through
    rope_theta: float
    rms_norm_eps: float
    num_local_experts: int
    num_experts_per_tok: int
    layer_types: tuple[str, ...]  # LIGHTNING | SOFTMAX per layer
    attn_alpha: tuple[float, ...]  # DeepNorm factors per layer (lightning or softmax ones)
    attn_beta: tuple[float, ...]
    mlp_alpha: float
    mlp_beta: float
    max_position_embeddings: int
    eos_token_id: int | None = None  # None: take the tokenizer's <end_of_sentence>
    tie_word_embeddings: bool = False
    model_type: str = NATIVE_TYPE
    source_format: str = "original"  # original | hf
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def softmax_layers(self) -> list[int]:
        return [i for i, t in enumerate(self.layer_types) if t == SOFTMAX]

    @property
    def lightning_layers(self) -> list[int]:
        return [i for i, t in enumerate(self.layer_types) if t == LIGHTNING]

    # ---- reading -------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Path) -> "HybridConfig":
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MinimaxError(ErrorCode.MODEL_NOT_FOUND, "no config.json in the checkpoint folder", str(path))
        except (OSError, ValueError) as exc:
            raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"config.json is not readable JSON: {exc}", str(path))
        return cls.from_dict(raw, where=str(path))

    @classmethod
    def from_dict(cls, raw: dict, where: str | None = None) -> "HybridConfig":
        def fail(reason: str) -> MinimaxError:
            return MinimaxError(ErrorCode.BAD_CHECKPOINT, reason, where)

        model_type = raw.get("model_type")
        if model_type in ORIGINAL_TYPES:
            fmt = "original"
        elif model_type == NATIVE_TYPE:
            fmt = "hf"
        else:
            raise fail(f"model_type {model_type!r} is not a MiniMax hybrid checkpoint "
                       f"(expected one of {', '.join(MODEL_TYPES)})")

        def need(key: str):
            if key not in raw or raw[key] is None:
                raise fail(f"config.json lacks {key!r}")
            return raw[key]

        layers = int(need("num_hidden_layers"))
        heads = int(need("num_attention_heads"))
        hidden = int(need("hidden_size"))
        head_dim = int(raw.get("head_dim") or hidden // heads)
        kv_heads = int(raw.get("num_key_value_heads") or heads)
        if heads % kv_heads:
            raise fail(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        if raw.get("hidden_act", "silu") != "silu":
            raise fail(f"hidden_act {raw['hidden_act']!r} is not supported (MiniMax uses silu)")
        if raw.get("shared_intermediate_size", 0):
            raise fail("shared-expert MoE (shared_intermediate_size > 0) is not supported")

        if fmt == "original":
            if raw.get("postnorm", True) is not True:
                raise fail("postnorm false is not supported (every published MiniMax checkpoint uses postnorm)")
            codes = need("attn_type_list")
            layer_types = tuple(SOFTMAX if int(c) == 1 else LIGHTNING for c in codes)
            a_lin = float(raw.get("layernorm_linear_attention_alpha", 1.0))
            b_lin = float(raw.get("layernorm_linear_attention_beta", 1.0))
            a_full = float(raw.get("layernorm_full_attention_alpha", 1.0))
            b_full = float(raw.get("layernorm_full_attention_beta", 1.0))
            mlp_alpha = float(raw.get("layernorm_mlp_alpha", 1.0))
            mlp_beta = float(raw.get("layernorm_mlp_beta", 1.0))
        else:
            names = raw.get("layer_types")
            if names is None:
                raise fail("config.json lacks 'layer_types' (transformers' default alternation is not "
                           "MiniMax's layout; refusing to guess)")
            mapping = {"linear_attention": LIGHTNING, "full_attention": SOFTMAX}
            unknown = sorted(set(names) - set(mapping))
            if unknown:
                raise fail(f"unknown layer types {unknown}")
            layer_types = tuple(mapping[n] for n in names)
            a_lin = float(raw.get("linear_attn_alpha_factor", 1.0))
            b_lin = float(raw.get("linear_attn_beta_factor", 1.0))
            a_full = float(raw.get("full_attn_alpha_factor", 1.0))
            b_full = float(raw.get("full_attn_beta_factor", 1.0))
            mlp_alpha = float(raw.get("mlp_alpha_factor", 1.0))
            mlp_beta = float(raw.get("mlp_beta_factor", 1.0))

        if len(layer_types) != layers:
            raise fail(f"{len(layer_types)} layer types for num_hidden_layers {layers}")

        rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
        if rope.get("rope_type", "default") not in ("default", None):
            raise fail(f"rope_type {rope['rope_type']!r} is not supported")
        theta = float(rope.get("rope_theta") or raw.get("rope_theta") or 10000.0)
        if raw.get("rotary_dim") is not None:
            rotary_dim = int(raw["rotary_dim"])
        elif rope.get("partial_rotary_factor") or raw.get("partial_rotary_factor"):
            factor = float(rope.get("partial_rotary_factor") or raw.get("partial_rotary_factor"))
            rotary_dim = int(head_dim * factor)
        else:
            rotary_dim = head_dim
        if rotary_dim % 2 or not 0 < rotary_dim <= head_dim:
            raise fail(f"rotary_dim {rotary_dim} must be even and in (0, head_dim={head_dim}]")

        eos = raw.get("eos_token_id")
        if isinstance(eos, list):
            eos = eos[0] if eos else None

        return cls(
            vocab_size=int(need("vocab_size")),
            hidden_size=hidden,
            intermediate_size=int(need("intermediate_size")),
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            rotary_dim=rotary_dim,
            rope_theta=theta,
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-5)),
            num_local_experts=int(raw.get("num_local_experts") or raw.get("num_experts") or need("num_local_experts")),
            num_experts_per_tok=int(raw.get("num_experts_per_tok", 2)),
            layer_types=layer_types,
            attn_alpha=tuple(a_full if t == SOFTMAX else a_lin for t in layer_types),
            attn_beta=tuple(b_full if t == SOFTMAX else b_lin for t in layer_types),
            mlp_alpha=mlp_alpha,
            mlp_beta=mlp_beta,
            max_position_embeddings=int(raw.get("max_position_embeddings", 1 << 20)),
            eos_token_id=None if eos is None else int(eos),
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            model_type=model_type,
            source_format=fmt,
            extra=raw,
        )

    # ---- derived quantities --------------------------------------------------------------

    def slopes(self, layer: int) -> list[float]:
        """Lightning decay rate per head in `layer`: 2^(-8(h+1)/H) * (1 - l/(L-1) + 1e-5).

        For a power-of-two head count this equals the remote code's ALiBi-style slopes; with one
        layer the layer factor is taken as 1 (+1e-5) instead of dividing by zero.
        """
        heads, layers = self.num_attention_heads, self.num_hidden_layers
        factor = 1 - layer / max(layers - 1, 1) + 1e-5
        return [2 ** (-8 * (h + 1) / heads) * factor for h in range(heads)]
