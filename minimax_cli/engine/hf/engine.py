"""`HFEngine`: any transformers causal LM, from a model folder or a .gguf file.

fp32 on CPU (faster than bf16 on the CPUs we measured), bf16 on CUDA. Generation is our own loop
over the model's forward rather than `model.generate`: chunked prefill with progress, then decode,
greedy or top-p sampled from an explicit `torch.Generator`, which times prefill and decode
separately and stops on end-of-turn ids and stop strings.

Greedy decoding is speculative by prompt lookup (lookahead.py): the ids that followed the
last earlier occurrence of the last few ids are checked in one forward with the KV cache, and the
longest prefix that greedy decoding (repetition penalty included) would have picked is kept, plus
the model's own next token; the cache is cropped back to what was kept. The answer is the same
token for token as one token per forward, at a fraction of the forwards when the answer copies from
the prompt. Sampling decodes one token per forward.

`generate_many` prefills the token prefix that all its conversations share (the document) once and
starts each conversation from a copy of that cache.

`submit` queues a call with the engine's batcher (batch.py), which decodes up to `max_rows` queued
calls together (MINIMAX_CPU_ROWS; 1 answers each call as it is submitted).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor, TopPLogitsWarper

from minimax_cli.engine.base import (
    MIN_SHARED_PREFIX,
    rows_from_env,
    Engine,
    EngineInfo,
    Generation,
    GenerationParams,
    Message,
    cut_at_stop,
    shared_prefix_length,
    split_reasoning,
)
from minimax_cli.engine.chat import ChatTokenizer, template_pieces
from minimax_cli.engine.hf.batch import DEFAULT_ROWS, Batcher
from minimax_cli.engine.hf.load import config_window, load_pretrained, pick_device, pick_dtype, usable_cpus
from minimax_cli.engine.hf.lookahead import DecodeStats, NgramDrafter
from minimax_cli.engine.hf.packed import pack_linears
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

# GGUF metadata names one eos id, but chat models end a turn with either of two markers (Qwen:
# <|im_end|> and <|endoftext|>); we also stop on these when the tokenizer defines them.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>")
# Prompt-lookup drafts (see _lookahead_tokens): at most DRAFT_TOKENS ids, from 3- or 2-gram
# matches (1-gram matches are mostly wrong); the length starts at 4, grows by 2 after a wholly kept
# draft and shrinks by 1 after a rejection, so text that does not copy pays for few checked ids.
DRAFT_TOKENS = 10


class HFEngine(Engine):
    """A transformers causal LM with its own tokenizer and chat template."""

    def __init__(self, model, tokenizer, info: EngineInfo, *, repetition_penalty: float = 1.05,
                 prefill_chunk: int = 2048, lookahead: bool = True, draft_tokens: int = DRAFT_TOKENS):
        if not tokenizer.chat_template:
            raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the model has no chat template", info.path)
        self.model = model
        self.tokenizer = tokenizer
        self.chat = ChatTokenizer(tokenizer, template_pieces(tokenizer))
        self.info = info
        self.device = torch.device(info.devices[0])
        # Counts the answer's own tokens only. generate()'s penalty also counts the prompt's, which
        # over a long document penalises nearly every word the answer needs: on a 31K-token
        # haystack the 0.5B model answered "Marketer" with it and "Stratigraphers" (with an exact
        # quote) without it.
        self.penalty = RepetitionPenaltyLogitsProcessor(float(repetition_penalty))
        self.prefill_chunk = prefill_chunk
        self.eos_ids = eos_ids(model, tokenizer)
        self.lookahead = lookahead  # prompt-lookup drafts for greedy decoding; off: one token per forward
        self.draft_tokens = draft_tokens
        self.last_stats = DecodeStats()  # of the latest decode, for benchmarks and tests
        # transformers 5.24 renamed the KV cache argument and output `past_key_values` to `cache`
        # (the old name warns, and goes in 5.40); older 5.x know only the old name.
        self.cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.max_rows = rows_from_env(DEFAULT_ROWS)  # submitted calls decoded together (batch.py)
        self.model_lock = threading.RLock()  # one decode at a time: the batcher's thread or a caller's
        self._batcher: Batcher | None = None

    @property
    def max_in_flight(self) -> int:  # Session.stream keeps twice this many calls submitted
        return self.max_rows

    def submit(self, messages: Sequence[Message], params: GenerationParams,
               progress: Progress = NULL_PROGRESS):
        """Queue `messages` with the batcher (answered now when `max_rows` is 1); the future
        resolves to the Generation `generate` gives."""
        if self.max_rows <= 1:
            return super().submit(messages, params, progress)
        if self._batcher is None:
            self._batcher = Batcher(self, self.max_rows)
        return self._batcher.submit(messages, params, progress)

    @classmethod
    def load(cls, path: Path, *, name: str | None = None, dtype: str | None = None,
             context_window: int | None = None, repetition_penalty: float = 1.05,
             pack: bool = True, progress: Progress = NULL_PROGRESS) -> HFEngine:
        """Load a model folder or .gguf file; `context_window` overrides the model config's.
        fp32 on CPU: `pack` moves the linear layers' weights to oneDNN's layout (`pack_linears`)."""
        device = pick_device()
        dtype = pick_dtype(dtype, device)
        if device == "cpu":
            torch.set_num_threads(usable_cpus())
        task = progress.task(f"loading {name or path.name}")
        try:
            model, tokenizer = load_pretrained(path, dtype=dtype, device=device, progress=progress)
            if pack and device == "cpu" and dtype == "float32":
                pack_linears(model)
        finally:
            task.close()
        info = EngineInfo(
            name=name or path.name, engine="hf", path=str(path), dtype=dtype, devices=[device],
            context_window=context_window or config_window(model.config, path),
        )
        return cls(model, tokenizer, info, repetition_penalty=repetition_penalty)

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        """Answer `messages`. `completion_tokens` counts every token sampled, an end-of-turn
        token included, as `max_new_tokens` does."""
        ids = self.chat.prompt_ids(messages)
        limit = self.room(len(ids), params)
        with self.model_lock, torch.inference_mode(), _out_of_memory(len(ids)):
            started = time.perf_counter()
            logits, cache = self._prefill(ids, None, progress)
            return self._complete(ids, logits, cache, params, limit, progress, started)

    def generate_many(self, conversations: Sequence[Sequence[Message]], params: GenerationParams,
                      progress: Progress = NULL_PROGRESS) -> list[Generation]:
        """Answer each conversation as `generate` would, prefilling the token prefix they all
        share once: each starts from a copy of its cache. The first one's `prefill_seconds`
        includes that prefix; the others' `cached_tokens` count it."""
        prompts = [self.chat.prompt_ids(c) for c in conversations]
        limits = [self.room(len(ids), params) for ids in prompts]  # refuse before any work
        shared = shared_prefix_length(prompts) if len(prompts) > 1 else 0
        results = []
        with self.model_lock, torch.inference_mode(), _out_of_memory(max(map(len, prompts), default=0)):
            prefix, prefix_seconds = None, 0.0
            if shared >= MIN_SHARED_PREFIX:
                started = time.perf_counter()
                _, prefix = self._prefill(prompts[0][:shared], None, progress)
                prefix_seconds = time.perf_counter() - started
            for n, (ids, limit) in enumerate(zip(prompts, limits)):
                started = time.perf_counter()
                if prefix is None:
                    logits, cache = self._prefill(ids, None, progress)
                    cached = 0
                else:
                    # A copy: decoding appends to (and crops) the cache the next conversation needs.
                    logits, cache = self._prefill(ids[shared:], copy.deepcopy(prefix), progress)
                    cached = shared if n else 0
                    started -= prefix_seconds if n == 0 else 0.0
                results.append(self._complete(ids, logits, cache, params, limit, progress, started, cached))
        return results

    def _complete(self, ids: list[int], logits: torch.Tensor, cache, params: GenerationParams,
                  limit: int, progress: Progress, started: float, cached: int = 0) -> Generation:
        """Decode after a prefill that began at `started` and just ended."""
        first = time.perf_counter()
        out, finish, text = self._decode_loop(ids, logits, cache, params, limit, progress)
        ended = time.perf_counter()
        answer, reasoning = split_reasoning(text)
        return Generation(
            text=answer, prompt_tokens=len(ids), completion_tokens=len(out), finish_reason=finish,
            prefill_seconds=first - started, decode_seconds=ended - first, reasoning=reasoning,
            cached_tokens=cached,
        )

    def _prefill(self, ids: list[int], cache, progress: Progress):
        """Run the prompt (after what `cache` holds) in chunks, so activations stay bounded and
        progress moves; (the last position's logits, the cache)."""
        task = progress.task("prefill", len(ids), "tokens")
        try:
            for start in range(0, len(ids), self.prefill_chunk):
                chunk = ids[start:start + self.prefill_chunk]
                logits, cache = self._forward(chunk, cache)
                task.advance(len(chunk))
        finally:
            task.close()
        return logits, cache

    def _decode_loop(self, ids: list[int], logits: torch.Tensor, cache, params: GenerationParams,
                     limit: int, progress: Progress) -> tuple[list[int], str, str]:
        """(tokens sampled, finish reason, text) for at most `limit` new tokens."""
        self.last_stats = stats = DecodeStats()
        out: list[int] = []
        if limit <= 0:
            return out, "length", ""
        if params.temperature == 0 and self.lookahead:
            tokens = self._lookahead_tokens(ids, logits, cache, limit, stats)
        else:
            tokens = self._step_tokens(logits, cache, params, limit, stats)
        task = progress.task("generating", limit, "tokens")
        try:
            for token in tokens:
                out.append(token)
                task.advance()
                if (end := self.ending(out, params, limit)) is not None:
                    return out, *end
        finally:
            tokens.close()
            task.close()
        return out, "length", self.chat.decode(out)

    def ending(self, out: list[int], params: GenerationParams, limit: int) -> tuple[str, str] | None:
        """(finish reason, text) when the answer `out` has ended (an end-of-turn id, a stop string,
        `limit` tokens), else None; the one rule for a row alone and a row in a batch (batch.py)."""
        if out and out[-1] in self.eos_ids:
            return "stop", self.chat.decode(out)
        if params.stop and (cut := cut_at_stop(self.chat.decode(out), params.stop)) is not None:
            return "stop", cut
        if len(out) >= limit:
            return "length", self.chat.decode(out)
        return None

    def _step_tokens(self, logits: torch.Tensor, cache, params: GenerationParams,
                     limit: int, stats: DecodeStats) -> Iterator[int]:
        """One token per forward, greedy or sampled; the caller stops taking them."""
        generator = torch.Generator(self.device).manual_seed(params.seed)
        seen = _Seen(limit, self.device)
        while True:
            token = self._pick(seen.ids, logits, params, generator)
            yield token
            seen.append([token])
            logits, cache = self._forward([token], cache)
            stats.forwards += 1

    def _lookahead_tokens(self, ids: list[int], logits: torch.Tensor, cache, limit: int,
                          stats: DecodeStats) -> Iterator[int]:
        """Greedy tokens, the same as `_step_tokens` gives, checking prompt-lookup drafts.

        Each forward runs the newest token (whose keys and values the cache lacks) and a draft
        after it. The logits at position j, penalised with the ids up to j, pick the token after
        it; the draft's ids are kept while they equal those picks, and the first pick that differs
        (or the one after a wholly kept draft) is the model's own next token. The cache is cropped
        to the kept ids, so it again lacks only the newest token.
        """
        drafter = NgramDrafter(ids, max_ngram=3, min_ngram=2)
        seen = _Seen(limit + self.draft_tokens, self.device)
        token = self._greedy(seen.ids, logits)
        emitted, length = 0, min(4, self.draft_tokens)
        while True:
            yield token
            emitted += 1
            seen.append([token])
            drafter.extend([token])
            # The token after a wholly kept draft counts too, so a draft never runs past `limit`.
            draft, _ = drafter.draft(min(length, limit - emitted - 1))
            logits, cache = self._forward([token, *draft], cache, keep=len(draft) + 1)
            stats.forwards += 1
            stats.drafted += len(draft)
            kept = 0
            if draft:
                before = len(seen)
                seen.append(draft)  # provisionally: position j is penalised with ids up to j
                while True:
                    token = self._greedy(seen.ids[:, :before + kept], logits[kept:kept + 1])
                    if kept == len(draft) or token != draft[kept]:
                        break
                    kept += 1
                seen.truncate(before)
                if kept < len(draft):
                    cache.crop(kept - len(draft))  # drop the rejected ids' keys and values
                length = min(length + 2, self.draft_tokens) if kept == len(draft) else max(length - 1, 1)
            else:
                token = self._greedy(seen.ids, logits)
            stats.accepted += kept
            for accepted in draft[:kept]:
                yield accepted
                emitted += 1
                seen.append([accepted])
                drafter.extend([accepted])

    def _forward(self, ids: list[int], cache, keep: int = 1):
        """(logits of the last `keep` positions as [keep, vocab] fp32, the cache)."""
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device), **{self.cache_name: cache},
            use_cache=True, logits_to_keep=keep,
        )
        return out.logits[0, -keep:].float(), getattr(out, self.cache_name)

    def _greedy(self, seen: torch.Tensor, logits: torch.Tensor) -> int:
        return int(self.penalty(seen, logits).argmax(-1))

    def _pick(self, seen: torch.Tensor, logits: torch.Tensor, params: GenerationParams,
              generator: torch.Generator) -> int:
        if params.temperature == 0:
            return self._greedy(seen, logits)
        scores = self.penalty(seen, logits) / params.temperature
        if params.top_p < 1:
            scores = TopPLogitsWarper(params.top_p)(seen, scores)
        return int(torch.multinomial(scores.softmax(-1), 1, generator=generator))

class _Seen:
    """The answer's ids so far, as the [1, n] tensor the repetition penalty reads, grown in place."""

    def __init__(self, room: int, device: torch.device):
        self._buffer = torch.empty((1, room + 1), dtype=torch.long, device=device)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    @property
    def ids(self) -> torch.Tensor:
        return self._buffer[:, :self._length]

    def append(self, tokens: list[int]) -> None:
        end = self._length + len(tokens)
        if end > self._buffer.shape[1]:
            grown = self._buffer.new_empty((1, 2 * end))
            grown[:, :self._length] = self.ids
            self._buffer = grown
        self._buffer[0, self._length:end] = torch.tensor(tokens, dtype=torch.long)
        self._length = end

    def truncate(self, length: int) -> None:
        self._length = length


@contextlib.contextmanager
def _out_of_memory(prompt_tokens: int) -> Iterator[None]:
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"{prompt_tokens}-token prompt: {exc}") from exc


def eos_ids(model, tokenizer) -> frozenset[int]:
    ids: set[int] = set()
    for value in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
        if value is not None:
            ids.update(value if isinstance(value, list) else [value])
    added = tokenizer.get_added_vocab()
    ids.update(added[marker] for marker in END_MARKERS if marker in added)
    return frozenset(ids)
