"""The synthetic checkpoint writer: files, shapes, determinism, tokenizer, and native loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from minimax_cli.engine.hybrid.published import BOS_TOKEN, CHAT_TEMPLATE_PATH, EOS_TOKEN, UNK_TOKEN
from minimax_cli.synthetic import SYNTH_PRESETS, synth_config, write_synth_checkpoint
from minimax_cli.synthetic.tokenizer import build_tokenizer

TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"}
SHARDS = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
# Buffers native MiniMax recomputes from the config at load time; no real checkpoint carries them.
RECOMPUTED_BUFFERS = ("slope_rate", "query_decay", "key_decay", "diagonal_decay")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Nothing here may touch the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> dict[str, Path]:
    """The tiny preset in both formats, same seed."""
    root = tmp_path_factory.mktemp("synth")
    return {fmt: write_synth_checkpoint(root / fmt, "tiny", fmt=fmt, seed=0) for fmt in ("original", "hf")}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_tensors(directory: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for shard in sorted(directory.glob("model-*.safetensors")):
        with safe_open(str(shard), "pt") as f:
            tensors.update({name: f.get_tensor(name) for name in f.keys()})
    return tensors


# --- files and config -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["original", "hf"])
def test_files_and_index(ckpt, fmt):
    directory = ckpt[fmt]
    names = {p.name for p in directory.iterdir()}
    assert names == {"config.json", "model.safetensors.index.json"} | TOKENIZER_FILES | SHARDS

    index = read_json(directory / "model.safetensors.index.json")
    assert set(index["weight_map"].values()) == SHARDS
    stored = {}
    for shard in SHARDS:
        with safe_open(str(directory / shard), "pt") as f:
            stored.update({name: shard for name in f.keys()})
    assert stored == index["weight_map"]
    tensors = read_tensors(directory)
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in tensors.values())
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}


def test_whole_layers_per_shard(ckpt):
    weight_map = read_json(ckpt["original"] / "model.safetensors.index.json")["weight_map"]
    first, last = sorted(SHARDS)
    assert weight_map["model.embed_tokens.weight"] == first
    assert weight_map["lm_head.weight"] == weight_map["model.norm.weight"] == last
    for layer in range(8):
        files = {f for name, f in weight_map.items() if name.startswith(f"model.layers.{layer}.")}
        assert files == {first if layer < 4 else last}


def test_original_config(ckpt):
    config = read_json(ckpt["original"] / "config.json")
    assert config["architectures"] == ["MiniMaxText01ForCausalLM"]
    assert config["model_type"] == "minimax_text_01"
    assert config["attn_type_list"] == [0] * 7 + [1]
    for part in ("full_attention", "linear_attention", "mlp"):
        assert config[f"layernorm_{part}_alpha"] == pytest.approx(16**0.25)
        assert config[f"layernorm_{part}_beta"] == 1.0
    expected = {
        "postnorm": True, "rotary_dim": 8, "head_dim": 16, "rope_theta": 10_000_000, "hidden_size": 64,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 8, "num_local_experts": 4,
        "num_experts_per_tok": 2, "intermediate_size": 96, "vocab_size": 512, "shared_intermediate_size": 0,
        "bos_token_id": None, "eos_token_id": None, "tie_word_embeddings": False, "hidden_act": "silu",
        "max_position_embeddings": 1_000_000,
    }  # fmt: skip
    assert {k: config[k] for k in expected} == expected


def test_hf_config_is_native(ckpt):
    from transformers import AutoConfig, MiniMaxConfig

    raw = read_json(ckpt["hf"] / "config.json")
    assert raw["architectures"] == ["MiniMaxForCausalLM"] and raw["model_type"] == "minimax"
    assert not {"attn_type_list", "auto_map", "layernorm_mlp_alpha"} & raw.keys()
    config = AutoConfig.from_pretrained(ckpt["hf"])
    assert isinstance(config, MiniMaxConfig)
    assert config.layer_types == ["linear_attention"] * 7 + ["full_attention"]
    assert config.full_attn_alpha_factor == config.linear_attn_alpha_factor == config.mlp_alpha_factor == 2.0
    assert config.mlp_beta_factor == 1.0 and config.block_size == 256
    assert config.rope_parameters["rope_theta"] == 10_000_000
    assert config.rotary_dim == 8 and config.head_dim == 16


# --- weights --------------------------------------------------------------------------------------


def test_shapes(ckpt):
    tensors = read_tensors(ckpt["original"])
    hidden, hd, kv, inter, vocab = 64, 4 * 16, 2 * 16, 96, 512
    assert tensors["model.embed_tokens.weight"].shape == (vocab, hidden)
    assert tensors["lm_head.weight"].shape == (vocab, hidden)
    assert tensors["model.norm.weight"].shape == (hidden,)
    lightning = {"qkv_proj": (3 * hd, hidden), "output_gate": (hd, hidden), "out_proj": (hidden, hd), "norm": (hd,)}
    softmax = {"q_proj": (hd, hidden), "k_proj": (kv, hidden), "v_proj": (kv, hidden), "o_proj": (hidden, hd)}
    for layer in range(8):
        p = f"model.layers.{layer}."
        attn = softmax if layer == 7 else lightning
        names = {n.removeprefix(p + "self_attn.").removesuffix(".weight") for n in tensors if n.startswith(p + "self_attn.")}
        assert names == set(attn)
        for name, shape in attn.items():
            assert tensors[f"{p}self_attn.{name}.weight"].shape == shape
        assert tensors[p + "input_layernorm.weight"].shape == (hidden,)
        assert tensors[p + "post_attention_layernorm.weight"].shape == (hidden,)
        assert tensors[p + "block_sparse_moe.gate.weight"].shape == (4, hidden)
        for e in range(4):
            expert = f"{p}block_sparse_moe.experts.{e}."
            assert tensors[expert + "w1.weight"].shape == (inter, hidden)
            assert tensors[expert + "w3.weight"].shape == (inter, hidden)
            assert tensors[expert + "w2.weight"].shape == (hidden, inter)
    assert len(tensors) == 3 + 8 * (2 + 4 + 1 + 4 * 3)


def test_same_seed_same_bytes_other_seed_differs(ckpt, tmp_path):
    again = write_synth_checkpoint(tmp_path / "again", "tiny", seed=0)
    other = write_synth_checkpoint(tmp_path / "other", "tiny", seed=1)
    for name in sorted(SHARDS) + ["tokenizer.json", "config.json"]:
        assert (again / name).read_bytes() == (ckpt["original"] / name).read_bytes()
    base, changed = read_tensors(ckpt["original"]), read_tensors(other)
    assert base.keys() == changed.keys()
    assert not any(torch.equal(base[n], changed[n]) for n in base if not n.endswith("norm.weight"))


def test_formats_share_weights(ckpt):
    """Native transformers converts the original names on load, so both formats carry the same files."""
    index = {fmt: read_json(ckpt[fmt] / "model.safetensors.index.json") for fmt in ckpt}
    assert index["original"] == index["hf"]
    for shard in SHARDS:
        assert (ckpt["original"] / shard).read_bytes() == (ckpt["hf"] / shard).read_bytes()


def test_native_model_loads_and_predicts(ckpt):
    from transformers import MiniMaxForCausalLM

    model, info = MiniMaxForCausalLM.from_pretrained(ckpt["hf"], dtype=torch.float32, output_loading_info=True)
    assert not info["unexpected_keys"] and not info["mismatched_keys"] and not info["error_msgs"]
    assert all(key.endswith(RECOMPUTED_BUFFERS) for key in info["missing_keys"])
    # The recomputed slopes follow MiniMax's formula, so the missing buffers are not garbage.
    slopes = model.model.layers[6].self_attn.slope_rate.flatten()
    expected = [2 ** (-8 * (h + 1) / 4) * (1 - 6 / (8 - 1 + 1e-5) + 1e-5) for h in range(4)]
    assert slopes.tolist() == pytest.approx(expected, rel=1e-4)

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 508, (2, 64), generator=generator)
    with torch.no_grad():
        logits = model(ids).logits
    vocab = logits.shape[-1]
    assert vocab == 512 and torch.isfinite(logits).all()
    assert logits.softmax(-1).amax(-1).mean() > 5 / vocab


# --- overrides ------------------------------------------------------------------------------------


def test_overrides_keep_derived_fields_consistent():
    assert synth_config("tiny", {"rotary_dim": 16})["rotary_dim"] == 16

    four = synth_config("tiny", {"attn_type_list": [0, 1, 0, 1]})
    assert four["num_hidden_layers"] == 4 and four["layernorm_mlp_alpha"] == pytest.approx(8**0.25)

    sixteen = synth_config("tiny", {"num_hidden_layers": 16})
    assert [i for i, t in enumerate(sixteen["attn_type_list"]) if t] == [7, 15]

    native = synth_config("tiny", {"layer_types": ["full_attention", "linear_attention"], "mlp_beta_factor": 0.5})
    assert native["attn_type_list"] == [1, 0] and native["layernorm_mlp_beta"] == 0.5

    assert synth_config("tiny", {"vocab_size": 1000})["vocab_size"] == 1024  # padded like 200064
    assert synth_config("tiny-hf-layout")["attn_type_list"] == [1, 0] * 4


@pytest.mark.parametrize(
    "overrides",
    [{"rotary_dim": 32}, {"num_key_value_heads": 3}, {"attn_type_list": [0, 2]}, {"num_experts_per_tok": 5}],
)
def test_invalid_overrides_rejected(overrides):
    with pytest.raises(ValueError):
        synth_config("tiny", overrides)


def test_bad_arguments_rejected(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        write_synth_checkpoint(tmp_path, "huge")
    with pytest.raises(ValueError, match="fmt"):
        write_synth_checkpoint(tmp_path, fmt="gguf")
    with pytest.raises(ValueError, match="shards"):
        write_synth_checkpoint(tmp_path, shards=9)


def test_one_shard_float32(tmp_path):
    directory = write_synth_checkpoint(tmp_path, "tiny", shards=1, dtype="float32", overrides={"num_hidden_layers": 2})
    index = read_json(directory / "model.safetensors.index.json")
    assert set(index["weight_map"].values()) == {"model-00001-of-00001.safetensors"}
    assert {t.dtype for t in read_tensors(directory).values()} == {torch.float32}
    assert read_json(directory / "config.json")["torch_dtype"] == "float32"


# --- tokenizer ------------------------------------------------------------------------------------


def test_tokenizer_loads_and_round_trips(ckpt):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ckpt["original"])
    assert len(tokenizer) == 512 <= read_json(ckpt["original"] / "config.json")["vocab_size"]
    assert (tokenizer.unk_token, tokenizer.bos_token, tokenizer.eos_token) == (UNK_TOKEN, BOS_TOKEN, EOS_TOKEN)
    ids = tokenizer.convert_tokens_to_ids(["<end_of_document>", "<begin_of_document>", BOS_TOKEN, EOS_TOKEN])
    assert ids == [508, 509, 510, 511] and tokenizer.eos_token_id == 511

    text = "Grüße, naïve café — 東京 🎉👩‍💻\n\tindent  two spaces <b>&amp;</b> 3.14"
    encoded = tokenizer.encode(text, add_special_tokens=False)
    assert max(encoded) < 508 and tokenizer.decode(encoded) == text
    assert tokenizer.encode(EOS_TOKEN, add_special_tokens=False) == [511]


def test_chat_template_renders_minimax_format(ckpt):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ckpt["hf"])
    assert tokenizer.chat_template == CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")
    user = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    prompt = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    assert prompt == (
        "<begin_of_document><beginning_of_sentence>user name=user\nhi<end_of_sentence>\n"
        "<beginning_of_sentence>ai name=assistant\n"
    )
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {"role": "user", "content": [{"type": "text", "text": "Sum up."}, {"type": "text", "text": "dropped"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A "}, {"type": "text", "text": "story."}]},
    ]
    rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
    assert rendered == (
        "<begin_of_document><beginning_of_sentence>system ai_setting=assistant\nYou are a helpful assistant."
        "<end_of_sentence>\n<beginning_of_sentence>user name=user\nSum up.<end_of_sentence>\n"
        "<beginning_of_sentence>ai name=assistant\nA story.<end_of_sentence>\n"
    )
    ids = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=False)
    assert ids[:2] == [509, 510]  # <begin_of_document>, <beginning_of_sentence> as single tokens


def test_small_preset_vocabulary():
    """The built-in corpus has enough merges for the small preset's full vocabulary."""
    size = SYNTH_PRESETS["small"]["vocab_size"]
    tokenizer = build_tokenizer(size)
    assert tokenizer.get_vocab_size() == size == synth_config("small")["vocab_size"]
    assert tokenizer.token_to_id(EOS_TOKEN) == size - 1 and tokenizer.token_to_id(BOS_TOKEN) == size - 2
