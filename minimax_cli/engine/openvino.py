"""`OpenVINOEngine`: a GGUF chat model run by OpenVINO GenAI on the CPU.

OpenVINO reads the GGUF itself and keeps its 4/6-bit weights quantized, where `HFEngine` has to
dequantize them to fp32 (7 GB resident for the default model; 4.5 GB here, 2 GB of it KV cache).
GGUFs with tensor types OpenVINO cannot read (the 'small' model's Q5_0) fail to load.

What we count is what runs: the transformers tokenizer read from the same GGUF renders and counts
the chat exactly as `HFEngine` does (the same `ChatTokenizer`), and OpenVINO is fed those token ids,
never text. The tokenizer is saved once into the cache, since reading it from the GGUF takes ~20 s.

The pipeline is OpenVINO's continuous-batching scheduler with prefix caching: `generate_many` runs
its conversations as one batch after prefilling their shared prefix (the document) once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from minimax_cli.engine.base import (Engine, EngineInfo, Generation, GenerationParams, Message, cut_at_stop,
                                     shared_prefix_length, split_reasoning)
from minimax_cli.engine.chat import ChatTokenizer, template_pieces
from minimax_cli.engine.embedded import gguf_tokenizer
from minimax_cli.engine.hf.engine import END_MARKERS
from minimax_cli.engine.hf.load import usable_cpus
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

INSTALL = "pip install 'minimax-cli[cpu]'"
MIN_SHARED_PREFIX = 64  # generate_many: below this, a separate prefix pass costs more than it saves
# OpenVINO's KV block on the CPU. A cached prefix that ends inside a block is handed to every
# request of a batch as one shared block, and each writes its own prompt into it: with a 124-token
# prefix, three different questions all got the answer to the last one. Whole blocks are safe.
KV_BLOCK = 32
KV_CACHE_GB = 2  # prefix-cached KV blocks live here; u8 KV of the 1.5B is ~14 KB/token: ~140K tokens
PREFILL_CHUNK = 2048  # prompt tokens per scheduler step (OpenVINO's default: 256); not tuned


class OpenVINOEngine(Engine):
    """A GGUF model compiled by OpenVINO, with the model's own transformers tokenizer."""

    def __init__(self, pipeline, tokenizer, info: EngineInfo, ov_genai, *,
                 presence_penalty: float = 0.0):
        if not tokenizer.chat_template:
            raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the model has no chat template", info.path)
        self.pipeline = pipeline
        self.tokenizer = tokenizer
        self.chat = ChatTokenizer(tokenizer, template_pieces(tokenizer))  # counts as HFEngine does
        self.info = info
        self._og = ov_genai
        self._clock = _clock_type(ov_genai)
        # OpenVINO's repetition_penalty also penalises every prompt token (HF generate()'s
        # behaviour, which HFEngine avoids: over a document it penalises the words the answer
        # needs). Its presence penalty counts answer tokens only, but subtracts instead of divides.
        self.presence_penalty = presence_penalty
        added = tokenizer.get_added_vocab()
        self.eos_ids = frozenset({tokenizer.eos_token_id} - {None}
                                 | {added[m] for m in END_MARKERS if m in added})

    @classmethod
    def load(cls, gguf_path: Path, *, name: str | None = None, context_window: int | None = None,
             threads: int | None = None, kv_cache_gb: int = KV_CACHE_GB, cache: Path | None = None,
             progress: Progress = NULL_PROGRESS) -> OpenVINOEngine:
        """Compile `gguf_path` for the CPU; `threads` defaults to the CPUs this process may use."""
        # `import openvino` imports its model converter, whose telemetry writes ~/intel and
        # sends an analytics event; without the telemetry package it falls back to a no-op stub.
        sys.modules.setdefault("openvino_telemetry", None)
        try:
            import openvino_genai as og
        except ImportError:
            raise MinimaxError(ErrorCode.MODEL_NOT_FOUND,
                               f"the OpenVINO engine is not installed; install with: {INSTALL}") from None
        gguf_path = Path(gguf_path)
        if not gguf_path.is_file():
            raise MinimaxError(ErrorCode.MODEL_NOT_FOUND, "no such GGUF file", str(gguf_path))
        task = progress.task(f"loading {name or gguf_path.name} (OpenVINO)")
        try:
            scheduler = og.SchedulerConfig()
            scheduler.enable_prefix_caching = True
            scheduler.cache_size = kv_cache_gb
            scheduler.max_num_batched_tokens = PREFILL_CHUNK
            # No CACHE_DIR property: then OpenVINO writes nothing to disk.
            pipeline = og.LLMPipeline(str(gguf_path), "CPU", scheduler_config=scheduler,
                                      INFERENCE_NUM_THREADS=threads or usable_cpus())
            tokenizer = gguf_tokenizer(gguf_path, cache)  # after the pipeline: a bad file fails fast
        # OpenVINO reports an unknown quant type as RuntimeError, a malformed file as IndexError.
        except (RuntimeError, IndexError, ValueError, OSError) as exc:
            raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"OpenVINO cannot load the model: "
                               f"{str(exc).strip().splitlines()[-1]}", str(gguf_path)) from exc
        finally:
            task.close()
        info = EngineInfo(name=name or gguf_path.name, engine="openvino", path=str(gguf_path),
                          quant="gguf", devices=["cpu"],
                          context_window=context_window or _gguf_context(gguf_path))
        return cls(pipeline, tokenizer, info, og)

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        """Answer `messages`; `completion_tokens` counts the end-of-turn token, as HFEngine does."""
        ids = self.chat.prompt_ids(messages)
        limit = self.room(len(ids), params)
        clock = self._clock(progress.task("generating", limit, "tokens"))
        started = time.perf_counter()
        try:
            result = self._run([ids], params, limit, clock)
        finally:
            clock.task.close()
        ended = time.perf_counter()
        first = clock.first or ended  # the streamer's first call: prefill is done
        return self._generation(ids, result.tokens[0], result.finish_reasons[0], params,
                                first - started, ended - first)

    def generate_many(self, conversations: Sequence[Sequence[Message]], params: GenerationParams,
                      progress: Progress = NULL_PROGRESS) -> list[Generation]:
        """Answer the conversations as one batch. Their shared prefix is prefilled first, alone:
        OpenVINO looks up cached blocks when a request arrives, so requests that arrive together
        would each prefill the document. A batch's time is split evenly over its generations."""
        prompts = [self.chat.prompt_ids(c) for c in conversations]
        limits = [self.room(len(ids), params) for ids in prompts]  # refuse before any work
        shared = shared_prefix_length(prompts) // KV_BLOCK * KV_BLOCK if len(prompts) > 1 else 0
        results: list[Generation | None] = [None] * len(prompts)
        started = time.perf_counter()
        if shared >= MIN_SHARED_PREFIX:
            self._run([prompts[0][:shared]], GenerationParams(max_new_tokens=1), 1)
        prefix_seconds = time.perf_counter() - started
        # One GenerationConfig per batch: conversations near the window get a shorter limit.
        for limit in sorted(set(limits)):
            rows = [n for n, room in enumerate(limits) if room == limit]
            task = progress.task("generating", limit * len(rows), "tokens")
            started = time.perf_counter()
            try:
                result = self._run([prompts[n] for n in rows], params, limit)
                task.advance(sum(map(len, result.tokens)))
            finally:
                task.close()
            seconds = time.perf_counter() - started
            first = min(result.perf_metrics.get_ttft().mean / 1000, seconds)
            prefill, decode = (first + prefix_seconds) / len(rows), (seconds - first) / len(rows)
            prefix_seconds = 0.0
            for n, tokens, finish in zip(rows, result.tokens, result.finish_reasons):
                results[n] = self._generation(prompts[n], tokens, finish, params, prefill, decode,
                                              cached=shared if shared >= MIN_SHARED_PREFIX else 0)
        return results

    def _run(self, prompts: list[list[int]], params: GenerationParams, limit: int, streamer=None):
        """OpenVINO's EncodedResults for token-id prompts (a batch is right-padded; the
        attention mask tells OpenVINO where each prompt ends)."""
        import numpy as np
        import openvino as ov

        width = max(map(len, prompts))
        ids = np.zeros((len(prompts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, prompt in enumerate(prompts):
            ids[row, :len(prompt)] = prompt
            mask[row, :len(prompt)] = 1
        inputs = self._og.TokenizedInputs(ov.Tensor(ids), ov.Tensor(mask))
        try:
            return self.pipeline.generate(inputs, self._config(params, limit), streamer)
        except RuntimeError as exc:
            raise MinimaxError(ErrorCode.MODEL_ERROR, f"OpenVINO failed while generating: "
                               f"{str(exc).strip().splitlines()[-1]}") from exc

    def _config(self, params: GenerationParams, limit: int):
        config = self._og.GenerationConfig()
        config.max_new_tokens = limit
        config.stop_token_ids = set(self.eos_ids)
        config.eos_token_id = self.tokenizer.eos_token_id
        config.presence_penalty = self.presence_penalty
        if params.stop:
            config.stop_strings = {s for s in params.stop if s}
        if params.temperature > 0:
            config.do_sample = True
            config.temperature = params.temperature
            config.top_p = params.top_p
            config.rng_seed = params.seed
        return config

    def _generation(self, ids: list[int], tokens: list[int], finish, params: GenerationParams,
                    prefill: float, decode: float, cached: int = 0) -> Generation:
        # OpenVINO drops a matched stop string's tokens; a stop string inside the last token
        # (or one it saw only after detokenizing differently) is cut here, as HFEngine does.
        text = self.chat.decode(tokens)
        cut = cut_at_stop(text, params.stop) if params.stop else None
        stopped = finish == self._og.GenerationFinishReason.STOP or cut is not None
        answer, reasoning = split_reasoning(text if cut is None else cut)
        return Generation(
            text=answer, prompt_tokens=len(ids), completion_tokens=len(tokens),
            finish_reason="stop" if stopped else "length", prefill_seconds=prefill,
            decode_seconds=decode, reasoning=reasoning, cached_tokens=cached,
        )


def _clock_type(og):
    """A streamer that notes when the first token arrives (prefill's end) and moves progress."""

    class Clock(og.StreamerBase):
        def __init__(self, task):
            super().__init__()
            self.task, self.first = task, None

        def write(self, token):
            if self.first is None:
                self.first = time.perf_counter()
            self.task.advance(len(token) if isinstance(token, list) else 1)
            return og.StreamingStatus.RUNNING

        def end(self):
            pass

    return Clock


def _gguf_context(path: Path) -> int:
    from gguf import GGUFReader

    fields = GGUFReader(path).fields
    arch = fields["general.architecture"]
    arch = bytes(arch.parts[arch.data[0]]).decode()
    if (field := fields.get(f"{arch}.context_length")) is None:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the GGUF names no context length; set "
                           "context_window", str(path))
    return int(field.parts[field.data[0]][0])
