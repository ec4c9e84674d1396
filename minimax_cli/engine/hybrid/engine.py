"""`HybridEngine`: the tasks' `Engine` on our MiniMax hybrid runtime.

Prompts are rendered as pieces (chat.py), tokenized piece by piece (long contents cut where a
byte-level BPE tokenizer gives the same ids as for the whole text: engine/pieces.py),
then handed to the engine's scheduler (engine/scheduler.py), which keeps many sequences in flight
on `HybridRunner` rows (rows.py). `generate_many` submits every conversation at once, marking the
token prefix they share so it is prefilled once and read by all.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from dataclasses import replace
from collections.abc import Sequence
from pathlib import Path

import torch

from minimax_cli.engine.base import (Engine, EngineInfo, Generation, GenerationParams, Message,
                                     shared_prefix_length, split_reasoning)
from minimax_cli.engine.hybrid.chat import EOS, render_pieces
from minimax_cli.engine.chat import ChatTokenizer
from minimax_cli.engine.hybrid.config import HybridConfig
from minimax_cli.engine.hybrid.devicemap import fit_gpus
from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.published import REAL_EOS_ID
from minimax_cli.engine.hybrid.rows import HybridRunner
from minimax_cli.engine.hybrid.stream import CPU_CHUNK, default_chunk, perplexity, score_tokens
from minimax_cli.engine.scheduler import Completion, Scheduler, then
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

GPU_ROWS = 64  # sequences decoded at once on GPUs
CPU_ROWS = 8


def memory_budget(model: HybridForCausalLM) -> int:
    """Bytes the running rows may hold: most of what the fullest GPU has free after the weights,
    or a quarter of the host's memory on the CPU."""
    import os

    devices = {d for d in model.layer_devices() if d.type == "cuda"}
    if devices:
        return int(0.85 * min(torch.cuda.mem_get_info(d)[0] for d in devices))
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


class HybridEngine(Engine):
    def __init__(self, model: HybridForCausalLM, tokenizer, info: EngineInfo,
                 chunk_size: int = CPU_CHUNK, strip_think: bool = True,
                 default_params: GenerationParams = GenerationParams()):
        self.model = model
        self.tokenizer = tokenizer
        self.chat = ChatTokenizer(tokenizer, render_pieces)
        self.info = info
        self.chunk_size = chunk_size
        self.strip_think = strip_think
        self.default_params = default_params
        self.stop_ids = self._stop_ids()
        on_gpu = model.lm_head.weight.is_cuda
        self.max_rows = GPU_ROWS if on_gpu else CPU_ROWS
        # On the CPU (synthetic checkpoints: tests, demos) documents go one at a time unless
        # --concurrency asks for more, so that a run's records are reproducible: a batched step
        # adds up in another order than one row, which can flip a near-tied token.
        self.max_in_flight = self.max_rows if on_gpu else 1
        self.takes_concurrent_calls = True
        self._scheduler: Scheduler | None = None

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str | Path, *, name: str | None = None, dtype: str | None = None,
                  quant: str = "none", gpus: int = 0, device: str | None = None,
                  context_window: int | None = None, chunk_size: int | None = None,
                  strip_think: bool = True, default_params: GenerationParams = GenerationParams(),
                  progress: Progress = NULL_PROGRESS) -> "HybridEngine":
        """Load a checkpoint folder. With CUDA and no explicit `device`, the model spreads over
        `gpus` GPUs (0: all visible) by the same plan `minimax plan` prints."""
        path = Path(path)
        tokenizer = load_tokenizer(path)
        config = HybridConfig.from_file(path / "config.json")
        window = context_window or config.max_position_embeddings
        chunk = chunk_size or default_chunk(device)
        plan = None
        if device is None and torch.cuda.is_available():
            plan = fit_gpus(config, gpus or torch.cuda.device_count(), window, chunk, quant)
        model = load_checkpoint(path, dtype=dtype, device=device, plan=plan, quant=quant, progress=progress)
        first = model.model.embed_tokens.weight
        info = EngineInfo(
            name=name or path.name,
            engine="hybrid",
            path=str(path),
            dtype=str(first.dtype).removeprefix("torch."),
            quant=quant,
            devices=sorted({str(d) for d in model.layer_devices()}),
            context_window=window,
        )
        return cls(model, tokenizer, info, chunk, strip_think, default_params)

    def _stop_ids(self) -> list[int]:
        eos = self.model.config.eos_token_id
        ids = {eos} if eos is not None else set()
        tok_eos = self.tokenizer.convert_tokens_to_ids(EOS)
        if isinstance(tok_eos, int) and tok_eos != self.tokenizer.unk_token_id:
            ids.add(tok_eos)
        if not ids:
            if self.model.config.vocab_size > REAL_EOS_ID:
                ids.add(REAL_EOS_ID)
            else:
                raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"no eos: the config has none and the "
                                   f"tokenizer has no {EOS} token", self.info.path)
        return sorted(ids)

    # ---- generation -----------------------------------------------------------------------

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        return self.submit(messages, params, progress).result()

    def submit(self, messages: Sequence[Message], params: GenerationParams,
               progress: Progress = NULL_PROGRESS) -> Future:
        return self._submit_all([self.chat.prompt_ids(messages)], params, progress, shared=0)[0]

    def generate_many(self, conversations: Sequence[Sequence[Message]], params: GenerationParams,
                      progress: Progress = NULL_PROGRESS) -> list[Generation]:
        """All conversations in flight at once; the token prefix they share is prefilled once."""
        prompts = [self.chat.prompt_ids(c) for c in conversations]
        shared = shared_prefix_length(prompts) if len(prompts) > 1 else 0
        return [f.result() for f in self._submit_all(prompts, params, progress, shared)]

    def _submit_all(self, prompts: list[list[int]], params: GenerationParams, progress: Progress,
                    shared: int) -> list[Future]:
        longest = max(len(p) for p in prompts)
        params = replace(params, max_new_tokens=self.room(longest, params))
        scheduler = self.scheduler(progress)
        return [then(f, self._generation) for f in scheduler.submit_many(prompts, params, shared, progress)]

    def scheduler(self, progress: Progress = NULL_PROGRESS) -> Scheduler:
        """The engine's one scheduler (its loop thread starts with the first request)."""
        if self._scheduler is None:
            runner = HybridRunner(self.model, context_window=self.context_window, chunk_size=self.chunk_size,
                                  max_rows=self.max_rows, memory_budget=memory_budget(self.model))
            decode = functools.partial(self.tokenizer.decode, skip_special_tokens=True)
            self._scheduler = Scheduler(runner, decode, self.stop_ids)
        self._scheduler.progress = progress
        return self._scheduler

    def _generation(self, done: Completion) -> Generation:
        text, reasoning = done.text, None
        if self.strip_think:
            text, reasoning = split_reasoning(text)
        return Generation(text=text.strip(), prompt_tokens=done.prompt_tokens,
                          completion_tokens=len(done.tokens), finish_reason=done.finish_reason,
                          prefill_seconds=done.prefill_seconds, decode_seconds=done.decode_seconds,
                          reasoning=reasoning, cached_tokens=done.cached_tokens)

    # ---- scoring --------------------------------------------------------------------------

    def score(self, text: str, chunk_size: int | None = None,
              progress: Progress = NULL_PROGRESS) -> dict:
        """Mean negative log-likelihood per predicted token of `text` (no chat template)."""
        ids = self.chat.encode_content(text)
        if len(ids) < 2:
            raise MinimaxError(ErrorCode.EMPTY, "fewer than 2 tokens: nothing to score")
        total, count = score_tokens(self.model, ids, chunk_size or self.chunk_size, progress)
        nll, ppl = perplexity(total, count)
        return {"tokens": len(ids), "predicted": count, "nll": nll, "ppl": ppl}


def load_tokenizer(path: Path):
    """The checkpoint's own tokenizer, offline (minimax_cli/__init__.py), no remote code."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its model-type notice about our config is noise here
    try:
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except Exception as exc:  # transformers raises many types here; all mean "unusable folder"
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"cannot load the tokenizer: {exc}".splitlines()[0],
                           str(path))
