"""The published MiniMax architectures, so `minimax plan` works before any checkpoint is on disk.

MiniMax-Text-01 and MiniMax-M1 (40k, 80k) share one architecture; this is their config.json in
the original format (shared/research/runtime.md §2.1, from the published repositories).
"""

from __future__ import annotations

MINIMAX_01 = {
    "model_type": "minimax_text_01",
    "architectures": ["MiniMaxText01ForCausalLM"],
    "attn_type_list": [1 if i % 8 == 7 else 0 for i in range(80)],
    "head_dim": 128,
    "hidden_size": 6144,
    "intermediate_size": 9216,
    "hidden_act": "silu",
    "layernorm_full_attention_alpha": 3.5565588200778455,
    "layernorm_full_attention_beta": 1.0,
    "layernorm_linear_attention_alpha": 3.5565588200778455,
    "layernorm_linear_attention_beta": 1.0,
    "layernorm_mlp_alpha": 3.5565588200778455,
    "layernorm_mlp_beta": 1.0,
    "max_position_embeddings": 10240000,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 80,
    "num_local_experts": 32,
    "postnorm": True,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000000,
    "rotary_dim": 64,
    "shared_intermediate_size": 0,
    "tie_word_embeddings": False,
    "vocab_size": 200064,
    "bos_token_id": None,
    "eos_token_id": None,
}

KNOWN = {"minimax-text-01": MINIMAX_01, "minimax-m1-40k": MINIMAX_01, "minimax-m1-80k": MINIMAX_01}
