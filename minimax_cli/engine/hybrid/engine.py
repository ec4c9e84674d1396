"""`HybridEngine`: the tasks' `Engine` on our MiniMax hybrid runtime.

Prompts are rendered as pieces (chat.py), tokenized piece by piece (long contents cut where a
byte-level BPE tokenizer gives the same ids as for the whole text: engine/pieces.py),
streamed through chunked prefill, then decoded. `generate_many` prefills the token prefix shared
by all conversations once and restores its snapshot for each, so N questions over one document
pay its prefill once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace
from collections.abc import Sequence
from pathlib import Path

import torch

from minimax_cli.engine.base import (Engine, EngineInfo, Generation, GenerationParams, Message,
                                     split_reasoning)
from minimax_cli.engine.hybrid.chat import EOS, render_pieces
from minimax_cli.engine.pieces import split_for_tokenizer
from minimax_cli.engine.hybrid.config import REAL_EOS_ID, HybridConfig
from minimax_cli.engine.hybrid.devicemap import GiB, Plan, plan_devices
from minimax_cli.engine.hybrid.load import load_checkpoint
from minimax_cli.engine.hybrid.model import HybridForCausalLM
from minimax_cli.engine.hybrid.stream import (CPU_CHUNK, Sampler, decode, default_chunk, perplexity,
                                              prefill, score_tokens)
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

MIN_SHARED_PREFIX = 16  # below this, snapshotting costs more than it saves


class HybridEngine(Engine):
    def __init__(self, model: HybridForCausalLM, tokenizer, info: EngineInfo,
                 chunk_size: int = CPU_CHUNK, strip_think: bool = True,
                 default_params: GenerationParams = GenerationParams()):
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.chunk_size = chunk_size
        self.strip_think = strip_think
        self.default_params = default_params
        self.stop_ids = self._stop_ids()
        self._memo: OrderedDict[tuple[int, int], list[int]] = OrderedDict()

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, preset, *, quant: str | None = None, dtype: str | None = None,
             progress: Progress = NULL_PROGRESS) -> "HybridEngine":
        """Open a preset (config.Preset): its checkpoint folder, or its synthetic checkpoint,
        built into the cache on first use; over the visible GPUs by the device-map plan."""
        path = synth_checkpoint(preset.synth, progress) if preset.synth else preset.checkpoint_path()
        return cls.from_path(path, name=preset.name, dtype=dtype or preset.dtype, quant=quant or preset.quant,
                             gpus=preset.gpus, context_window=preset.context_window,
                             strip_think=preset.generation.strip_think, progress=progress)

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
            plan = gpu_plan(config, gpus or torch.cuda.device_count(), window, chunk, quant)
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

    # ---- tokens ---------------------------------------------------------------------------

    def _encode_content(self, text: str) -> list[int]:
        """Ids of a message content; literal control-token text stays text. Memoised (a document
        is counted by the planner, then prefilled)."""
        key = (len(text), hash(text))
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        ids: list[int] = []
        for piece in split_for_tokenizer(text):
            ids += self.tokenizer.encode(piece, add_special_tokens=False, split_special_tokens=True)
        self._memo[key] = ids
        if len(self._memo) > 8:
            self._memo.popitem(last=False)
        return ids

    def _encode_markup(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        ids: list[int] = []
        for text, is_content in render_pieces(messages):
            ids += self._encode_content(text) if is_content else self._encode_markup(text)
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self._encode_content(text))

    def chat_overhead(self, messages: Sequence[Message]) -> int:
        return sum(len(self._encode_markup(t)) for t, is_content in render_pieces(messages) if not is_content)

    # ---- generation -----------------------------------------------------------------------

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        return self.generate_many([messages], params, progress)[0]

    def generate_many(self, conversations: Sequence[Sequence[Message]], params: GenerationParams,
                      progress: Progress = NULL_PROGRESS) -> list[Generation]:
        prompts = [self._prompt_ids(c) for c in conversations]
        longest = max(len(p) for p in prompts)
        if longest >= self.context_window:
            raise MinimaxError(ErrorCode.TOO_LARGE, f"the prompt is {longest} tokens; the context window is "
                               f"{self.context_window}")
        if longest + params.max_new_tokens > self.context_window:
            params = replace(params, max_new_tokens=self.context_window - longest)
        shared = shared_prefix_length(prompts) if len(prompts) > 1 else 0
        cache = self.model.new_cache(capacity=max(len(p) for p in prompts) + params.max_new_tokens)
        results = []
        snapshot, prefix_seconds = None, 0.0
        if shared >= MIN_SHARED_PREFIX:
            t0 = time.perf_counter()
            prefill(self.model, cache, prompts[0][:shared], self.chunk_size, progress, total=shared)
            snapshot, prefix_seconds = cache.snapshot(), time.perf_counter() - t0
        for n, ids in enumerate(prompts):
            if snapshot is not None:
                cache.restore(snapshot)
                rest = ids[shared:]
            else:
                cache.reset()
                rest = ids
            results.append(self._complete(cache, ids, rest, params, progress,
                                          cached=shared if snapshot is not None and n else 0,
                                          extra_prefill=prefix_seconds if n == 0 else 0.0))
        return results

    def _complete(self, cache, ids, rest, params, progress, cached, extra_prefill) -> Generation:
        t0 = time.perf_counter()
        last = prefill(self.model, cache, rest, self.chunk_size, progress, total=len(rest))
        t1 = time.perf_counter()
        sampler = Sampler(params.temperature, params.top_p, params.seed)
        out: list[int] = []
        finish = "length"
        text = ""
        task = progress.task("generating", total=params.max_new_tokens, unit="tokens")
        try:
            for token in decode(self.model, cache, last, sampler, params.max_new_tokens, self.stop_ids):
                out.append(token)
                task.advance()
                if params.stop:
                    text = self.tokenizer.decode(out, skip_special_tokens=True)
                    hit = min((text.find(s) for s in params.stop if s in text), default=-1)
                    if hit >= 0:
                        text, finish = text[:hit], "stop"
                        break
            else:
                finish = "stop" if len(out) < params.max_new_tokens else "length"
        finally:
            task.close()
        if finish != "stop" or not params.stop:
            text = self.tokenizer.decode(out, skip_special_tokens=True)
        t2 = time.perf_counter()
        reasoning = None
        if self.strip_think:
            text, reasoning = split_reasoning(text)
        return Generation(text=text.strip(), prompt_tokens=len(ids), completion_tokens=len(out),
                          finish_reason=finish, prefill_seconds=t1 - t0 + extra_prefill,
                          decode_seconds=t2 - t1, reasoning=reasoning, cached_tokens=cached)

    # ---- scoring --------------------------------------------------------------------------

    def score(self, text: str, chunk_size: int | None = None,
              progress: Progress = NULL_PROGRESS) -> dict:
        """Mean negative log-likelihood per predicted token of `text` (no chat template)."""
        ids = self._encode_content(text)
        if len(ids) < 2:
            raise MinimaxError(ErrorCode.EMPTY, "fewer than 2 tokens: nothing to score")
        total, count = score_tokens(self.model, ids, chunk_size or self.chunk_size, progress)
        nll, ppl = perplexity(total, count)
        return {"tokens": len(ids), "predicted": count, "nll": nll, "ppl": ppl}


def shared_prefix_length(prompts: list[list[int]]) -> int:
    """Tokens common to the start of every prompt, leaving at least one token of each to prefill
    (the last prompt token's logits start decoding)."""
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        i = 0
        limit = min(n, len(p))
        while i < limit and p[i] == first[i]:
            i += 1
        n = i
    return max(n, 0)


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


def synth_checkpoint(name: str, progress: Progress = NULL_PROGRESS) -> Path:
    """The cached synthetic checkpoint `name`, written on first use into a temporary folder and
    renamed into place, so concurrent first runs never see a half-written one."""
    import shutil
    import tempfile

    from minimax_cli.config import synth_path
    from minimax_cli.engine.hybrid.synth import write_synth_checkpoint

    final = synth_path(name)
    if (final / "config.json").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    progress.log(f"building the synthetic checkpoint {name!r} in {final}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        write_synth_checkpoint(tmp, name)
        try:
            tmp.rename(final)
        except OSError:  # another process renamed its copy first: use that one
            if not (final / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def gpu_plan(config: HybridConfig, gpus: int, context: int, chunk: int, quant: str) -> Plan:
    """The device map for the visible GPUs; refuses to load what the plan says cannot fit."""
    if gpus > torch.cuda.device_count():
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"the preset wants {gpus} GPUs, {torch.cuda.device_count()} "
                           "are visible")
    capacity = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
    plan = plan_devices(config, gpus, capacity, context, chunk, quant, balance="compute")
    if not plan.fits:
        raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"the model does not fit {gpus} GPU(s) at {context} tokens "
                           f"of context ({plan.shortfall_bytes / GiB:.1f} GiB short); would fit: "
                           f"{'; '.join(plan.advice)}")
    return plan
