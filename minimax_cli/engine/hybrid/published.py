"""What MiniMax published about its hybrid models: the facts the runtime, the planner and the
synthetic checkpoints must agree on, kept in one place.

MiniMax-Text-01 and MiniMax-M1 (40k, 80k) share one architecture; `MINIMAX_01` is their
config.json in the original (remote-code) format, so `minimax plan` works before any checkpoint
is on disk.
"""

from __future__ import annotations

from pathlib import Path

# config.json `model_type`: the original remote-code checkpoints, and transformers' native `-hf` ones.
ORIGINAL_TYPES = ("minimax_text_01", "minimax_m1")
NATIVE_TYPE = "minimax"
MODEL_TYPES = ORIGINAL_TYPES + (NATIVE_TYPE,)

# Weight formats the runtime loads: as stored, or int8 weight-only (experts included).
QUANTS = ("none", "int8")

# Special tokens of the MiniMax tokenizer. The published configs leave eos_token_id null; the end of
# a turn is <end_of_sentence>, id 200020 in the real vocabulary.
BOD_TOKEN = "<begin_of_document>"  # the chat template's first token
BOS_TOKEN = "<beginning_of_sentence>"
EOS_TOKEN = "<end_of_sentence>"
UNK_TOKEN = "<end_of_document>"
REAL_EOS_ID = 200020

# The chat template of MiniMax-M1's tokenizer_config.json, verbatim.
CHAT_TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")


def minimax_layout(num_layers: int) -> list[int]:
    """`attn_type_list` of the real model: softmax (1) at every 8th layer (7, 15, ...), else
    lightning (0). Layer 0 is a lightning layer."""
    return [1 if i % 8 == 7 else 0 for i in range(num_layers)]


MINIMAX_01 = {
    "model_type": "minimax_text_01",
    "architectures": ["MiniMaxText01ForCausalLM"],
    "attn_type_list": minimax_layout(80),
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
