"""Random small checkpoints of the MiniMax hybrid architecture: a development tool, kept out of the
runtime.

`write_synth_checkpoint` writes a directory that loads exactly like a published MiniMax-Text-01 /
MiniMax-M1 checkpoint: the remote-code `config.json` (or the native `-hf` one), sharded bf16
safetensors under the original tensor names with their index, and a byte-level BPE tokenizer with
the MiniMax special tokens and chat template. The output is a pure function of (preset, overrides,
seed, fmt, shards, dtype). Tests, benches, `minimax models synth` and the `tiny` preset use it.
"""

from minimax_cli.synthetic.checkpoint import synth_checkpoint, write_synth_checkpoint
from minimax_cli.synthetic.config import SYNTH_PRESETS, synth_config, to_hf_config

__all__ = ["SYNTH_PRESETS", "synth_checkpoint", "synth_config", "to_hf_config", "write_synth_checkpoint"]
