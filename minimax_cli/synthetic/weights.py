"""Synthetic checkpoint weights: random tensors under the original checkpoint names, scaled so a
forward pass gives peaked, finite next-token distributions, sharded like a real checkpoint."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from minimax_cli.synthetic.files import write_json

# Std of each kind of tensor. Projections use 1/sqrt(fan_in) so every branch output is O(1). With
# post-norm DeepNorm (x = alpha * norm(x) + beta * f(norm(x))) nothing compounds across layers, and
# branches of the same order as the residual make a wrong attention or MoE visibly change the
# logits in comparisons. The LM head is scaled up so the next-token distribution is peaked.
_NORM_NOISE = 0.05
_EMBED_STD = 1.0
_LM_HEAD_GAIN = 3.0


def weight_shapes(config: dict[str, Any]) -> dict[str, list[tuple[str, tuple[int, ...], float]]]:
    """Tensors per shard unit, in file order: 'embed', 'layer.{i}', 'final'.

    Each entry is (name, shape, std); std 0 marks a norm weight (1 plus noise). Names are the
    original checkpoint keys, shared by both config formats.
    """
    hidden, heads, kv_heads = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"]
    d, inter, vocab = config["head_dim"], config["intermediate_size"], config["vocab_size"]

    units: dict[str, list[tuple[str, tuple[int, ...], float]]] = {
        "embed": [("model.embed_tokens.weight", (vocab, hidden), _EMBED_STD)]
    }
    for i, attn_type in enumerate(config["attn_type_list"]):
        p = f"model.layers.{i}."
        tensors = [(p + "input_layernorm.weight", (hidden,), 0.0), (p + "post_attention_layernorm.weight", (hidden,), 0.0)]
        if attn_type == 0:
            # qkv_proj rows are per head [q_h, k_h, v_h]: the model views its output as [..., H, 3*D].
            tensors += [
                (p + "self_attn.qkv_proj.weight", (3 * heads * d, hidden), hidden**-0.5),
                (p + "self_attn.output_gate.weight", (heads * d, hidden), hidden**-0.5),
                (p + "self_attn.out_proj.weight", (hidden, heads * d), (heads * d) ** -0.5),
                (p + "self_attn.norm.weight", (heads * d,), 0.0),
            ]
        else:
            tensors += [
                (p + "self_attn.q_proj.weight", (heads * d, hidden), hidden**-0.5),
                (p + "self_attn.k_proj.weight", (kv_heads * d, hidden), hidden**-0.5),
                (p + "self_attn.v_proj.weight", (kv_heads * d, hidden), hidden**-0.5),
                (p + "self_attn.o_proj.weight", (hidden, heads * d), (heads * d) ** -0.5),
            ]
        moe = p + "block_sparse_moe."
        tensors.append((moe + "gate.weight", (config["num_local_experts"], hidden), hidden**-0.5))
        for e in range(config["num_local_experts"]):
            tensors += [
                (f"{moe}experts.{e}.w1.weight", (inter, hidden), hidden**-0.5),
                (f"{moe}experts.{e}.w3.weight", (inter, hidden), hidden**-0.5),
                (f"{moe}experts.{e}.w2.weight", (hidden, inter), inter**-0.5),
            ]
        units[f"layer.{i}"] = tensors
    units["final"] = [
        ("model.norm.weight", (hidden,), 0.0),
        ("lm_head.weight", (vocab, hidden), _LM_HEAD_GAIN * hidden**-0.5),
    ]
    return units


def _random_tensor(name: str, shape: tuple[int, ...], std: float, seed: int, dtype: torch.dtype) -> torch.Tensor:
    """One tensor from its own generator, so it depends only on (seed, name, shape, dtype).

    Sampled in place in the target dtype: a single serial op per tensor (elementwise ops on
    small tensors spend most of their time waking torch's thread pool).
    """
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
    mean, std = (1.0, _NORM_NOISE) if std == 0.0 else (0.0, std)
    return torch.empty(shape, dtype=dtype).normal_(mean, std, generator=generator)


def _shard_plan(num_layers: int, shards: int) -> list[list[str]]:
    """Units per shard: whole layers, contiguous and balanced; embed first, norm and head last."""
    if not 1 <= shards <= num_layers:
        raise ValueError(f"shards must be between 1 and num_hidden_layers ({num_layers}), got {shards}")
    per_shard, extra = divmod(num_layers, shards)
    plan, start = [], 0
    for s in range(shards):
        count = per_shard + (1 if s < extra else 0)
        plan.append([f"layer.{i}" for i in range(start, start + count)])
        start += count
    plan[0].insert(0, "embed")
    plan[-1].append("final")
    return plan


def write_weights(out_dir: Path, config: dict[str, Any], *, seed: int, shards: int, dtype: torch.dtype) -> None:
    """Sharded safetensors plus model.safetensors.index.json."""
    units = weight_shapes(config)
    weight_map: dict[str, str] = {}
    total_size = 0
    plan = _shard_plan(config["num_hidden_layers"], shards)
    for index, unit_names in enumerate(plan, start=1):
        filename = f"model-{index:05d}-of-{len(plan):05d}.safetensors"
        tensors = {
            name: _random_tensor(name, shape, std, seed, dtype)
            for unit in unit_names
            for name, shape, std in units[unit]
        }
        save_file(tensors, str(out_dir / filename), metadata={"format": "pt"})
        for name, tensor in tensors.items():
            weight_map[name] = filename
            total_size += tensor.numel() * tensor.element_size()
    index_json = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
    write_json(out_dir / "model.safetensors.index.json", index_json)
