"""Config migration from both published formats, and clear refusals."""

import pytest

from minimax_cli.engine.hybrid.config import LIGHTNING, HybridConfig
from minimax_cli.synthetic import synth_config, to_hf_config
from minimax_cli.errors import ErrorCode, MinimaxError
from tests.engine.hybrid.conftest import original_config


def real_config() -> dict:
    """MiniMax-Text-01's published config.json (shared/research/runtime.md §2.1)."""
    return original_config(
        num_hidden_layers=80, hidden_size=6144, intermediate_size=9216, num_attention_heads=64,
        num_key_value_heads=8, head_dim=128, rotary_dim=64, rope_theta=10000000, num_local_experts=32,
        vocab_size=200064, max_position_embeddings=10240000,
        layernorm_full_attention_alpha=3.5565588200778455, layernorm_linear_attention_alpha=3.5565588200778455,
        layernorm_mlp_alpha=3.5565588200778455)


def test_real_original_config():
    c = HybridConfig.from_dict(real_config())
    assert c.softmax_layers == list(range(7, 80, 8)) and c.layer_types[0] == LIGHTNING
    assert (c.head_dim, c.rotary_dim, c.rope_theta) == (128, 64, 1e7)
    assert c.attn_alpha[0] == pytest.approx(3.5565588200778455) and c.mlp_beta == 1.0
    assert c.eos_token_id is None  # the engine falls back to the tokenizer's <end_of_sentence>
    # slope of head 0 in layer 0: 2^(-8/64); the last layer keeps only the 1e-5 floor
    assert c.slopes(0)[0] == pytest.approx(2 ** (-8 / 64) * (1 + 1e-5))
    assert c.slopes(79)[0] == pytest.approx(2 ** (-8 / 64) * 1e-5)
    assert c.slopes(0)[63] == pytest.approx(2 ** -8 * (1 + 1e-5))


def test_hf_format_migrates_to_the_same_config():
    raw = synth_config("tiny")
    a, b = HybridConfig.from_dict(raw), HybridConfig.from_dict(to_hf_config(raw))
    assert a.source_format == "original" and b.source_format == "hf"
    for field in ("layer_types", "attn_alpha", "attn_beta", "mlp_alpha", "rotary_dim", "rope_theta", "head_dim"):
        assert getattr(a, field) == getattr(b, field), field


def test_hf_partial_rotary_factor():
    raw = to_hf_config(synth_config("tiny"))
    raw.pop("rotary_dim")
    raw["rope_parameters"] = {"rope_theta": 1e7, "rope_type": "default", "partial_rotary_factor": 0.5}
    assert HybridConfig.from_dict(raw).rotary_dim == 8


@pytest.mark.parametrize("change,words", [
    ({"postnorm": False}, "postnorm"),
    ({"shared_intermediate_size": 128}, "shared-expert"),
    ({"model_type": "llama"}, "not a MiniMax"),
    ({"attn_type_list": [0, 1]}, "layer types"),
    ({"num_key_value_heads": 3}, "multiple"),
    ({"rotary_dim": 7}, "rotary_dim"),
])
def test_unsupported_configs_fail_clearly(change, words):
    with pytest.raises(MinimaxError) as err:
        HybridConfig.from_dict({**original_config(), **change}, where="ckpt/config.json")
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and words in str(err.value)
    assert "\n" not in str(err.value)


def test_hf_without_layer_types_is_refused():
    raw = to_hf_config(synth_config("tiny"))
    raw.pop("layer_types")
    with pytest.raises(MinimaxError, match="layer_types"):
        HybridConfig.from_dict(raw)
