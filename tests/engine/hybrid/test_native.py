"""Our model against transformers' native MiniMaxForCausalLM, same weights from one checkpoint.

Native is right only where its known bugs do not bite (shared/research/runtime.md §1.5-1.6): a
one-shot prefill, and RoPE over the whole head. So the comparison uses rotary_dim = head_dim and
a single forward; with the real partial RoPE the two must differ (native ignores rotary_dim).
"""

import os

import pytest
import torch

from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.synthetic import write_synth_checkpoint

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def native_logits(folder, tokens):
    from transformers import MiniMaxForCausalLM

    model = MiniMaxForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].float()


def our_logits(folder, tokens):
    model = load_checkpoint(folder, dtype="float32", device="cpu")
    return model.logits(model(torch.tensor([tokens]), model.new_cache()))[0]


@pytest.mark.parametrize("preset", ["tiny", "tiny-hf-layout"])
def test_one_shot_matches_native_with_full_head_rope(tmp_path, preset):
    folder = write_synth_checkpoint(tmp_path / "ckpt", preset, fmt="hf", overrides={"rotary_dim": 16})
    tokens = torch.randint(0, 500, (300,), generator=torch.Generator().manual_seed(0)).tolist()
    ours, native = our_logits(folder, tokens), native_logits(folder, tokens)
    err = (ours - native).abs().max().item()
    assert err < 1e-4, f"max |dlogit| {err}"  # 300 tokens cross native's 256-token block boundary


def test_partial_rope_differs_from_native(tmp_path):
    """The real config rotates 8 of 16 dims here; native rotates all 16 and so must disagree."""
    folder = write_synth_checkpoint(tmp_path / "ckpt", "tiny", fmt="hf")
    tokens = list(range(1, 120))
    assert (our_logits(folder, tokens) - native_logits(folder, tokens)).abs().max() > 1e-2


def test_original_and_hf_formats_load_to_the_same_model(tmp_path):
    a = write_synth_checkpoint(tmp_path / "orig", "tiny", fmt="original", seed=3)
    b = write_synth_checkpoint(tmp_path / "hf", "tiny", fmt="hf", seed=3)
    tokens = list(range(5, 60))
    assert torch.equal(our_logits(a, tokens), our_logits(b, tokens))
