"""Synthetic checkpoint tokenizer: a small byte-level BPE (GPT-2 style, like MiniMax's) trained on
corpus.txt, with the MiniMax special tokens last and the MiniMax chat template."""

from __future__ import annotations

from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from minimax_cli.engine.hybrid.published import BOD_TOKEN, BOS_TOKEN, CHAT_TEMPLATE_PATH, EOS_TOKEN, UNK_TOKEN
from minimax_cli.synthetic.files import write_json

# Appended after the BPE vocabulary in this order, so eos directly follows bos as in the real
# vocabulary (200019 / 200020) and is the last id.
SPECIAL_TOKENS = (UNK_TOKEN, BOD_TOKEN, BOS_TOKEN, EOS_TOKEN)
# Original English text, written for this project, to train the BPE on. Its variety of words (not
# its length) sets how many merges exist: about 2,500, enough for the "small" preset.
CORPUS_PATH = Path(__file__).with_name("corpus.txt")


def build_tokenizer(size: int) -> Tokenizer:
    """A GPT-2 style byte-level BPE of at most `size` tokens, the MiniMax specials last.

    Any UTF-8 text round-trips: the 256 byte symbols are always in the vocabulary. Training on
    the built-in corpus is deterministic and takes a few tens of milliseconds.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=size - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS_PATH.read_text(encoding="utf-8").splitlines(), trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tokenizer


def chat_template() -> str:
    """The MiniMax-M1 chat template, verbatim from its tokenizer_config.json."""
    return CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")


def write_tokenizer(out_dir: Path, size: int) -> Tokenizer:
    """tokenizer.json, vocab.json + merges.txt, tokenizer_config.json, special_tokens_map.json."""
    tokenizer = build_tokenizer(size)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    tokenizer.model.save(str(out_dir))  # vocab.json + merges.txt, as the real checkpoints ship
    added = {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token in SPECIAL_TOKENS
    }
    write_json(
        out_dir / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "added_tokens_decoder": added,
            "bos_token": BOS_TOKEN,
            "clean_up_tokenization_spaces": False,
            "eos_token": EOS_TOKEN,
            "model_max_length": 40960000,  # the real value
            "tokenizer_class": "GPT2Tokenizer",
            "unk_token": UNK_TOKEN,
            "chat_template": chat_template(),
        },
        sort_keys=False,
    )
    write_json(
        out_dir / "special_tokens_map.json",
        {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": UNK_TOKEN},
    )
    return tokenizer
