"""Any transformers causal LM (a model folder or a .gguf file) on CPU or one GPU: `HFEngine`.

- engine.py: the engine: chunked prefill, greedy decode checked against prompt-lookup drafts,
  sampling, stop rules
- batch.py: submitted calls decoded together, several rows per forward (MINIMAX_CPU_ROWS)
- load.py: device and dtype choice, loading, the context window
- lookahead.py: prompt-lookup drafts; packed.py: linears packed for oneDNN on the CPU
"""

from minimax_cli.engine.hf.engine import HFEngine

__all__ = ["HFEngine"]
