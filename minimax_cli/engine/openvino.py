"""`OpenVINOEngine`: the embedded GGUF models (and any GGUF OpenVINO reads) on the CPU.

OpenVINO GenAI keeps the GGUF's 4/6/8-bit weights quantized, where `HFEngine` dequantizes them to
fp32 (a 6.7 GB copy on disk and ~7 GB resident for the default model). The embedded models are
loaded from an OpenVINO IR folder that `save_ir` writes once from the GGUF (embedded.py caches it):
reading the IR takes ~2 s where reading the GGUF took ~15 s. A GGUF the user names is read as is.

What we count is what runs: the model's transformers tokenizer (read from the GGUF once and kept
beside the IR) renders and counts chats exactly as `HFEngine` does (the same `ChatTokenizer`), and
OpenVINO is fed those token ids, never text.

Generation runs on OpenVINO's continuous-batching pipeline: `submit` queues a request from any
thread; one loop thread adds queued requests to the pipeline between steps, steps every running
request at once (a new request's prompt is prefilled in chunks beside the others' decoding) and
resolves each future when its request ends. Prefix caching keeps the KV blocks of earlier prompts,
so questions over one document prefill the document once.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import (Engine, EngineInfo, Generation, GenerationParams, Message, cut_at_stop,
                                     rows_from_env, shared_prefix_length, split_reasoning)
from minimax_cli.engine import gguf_header
from minimax_cli.engine.chat import ChatTokenizer, template_pieces
from minimax_cli.engine.hf.engine import END_MARKERS
from minimax_cli.engine.hf.load import usable_cpus
from minimax_cli.engine.worker import RequestQueue
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

INSTALL = "pip install --force-reinstall minimax-cli"  # openvino-genai is a core dependency
IR_MODEL = "openvino_model.xml"
IR_INFO = "minimax.json"  # what the IR cannot say itself: the GGUF's context window
ROWS = 8  # MINIMAX_CPU_ROWS unset: requests stepped together; 8 rows cost little more than 1 here
# OpenVINO's KV block on the CPU. A cached prefix that ends inside a block is handed to every
# request of a batch as one shared block, and each writes its own prompt into it: with a 124-token
# prefix, three different questions all got the answer to the last one. Whole blocks are safe.
KV_BLOCK = 32
MIN_SHARED_PREFIX = 64  # generate_many: below this, a separate prefix pass costs more than it saves
PREFILL_CHUNK = 2048  # prompt tokens per step (OpenVINO's default: 256, half the speed here)
# Greedy decoding of the 1.5B on OpenVINO repeated a sentence until max_new_tokens on the sample
# book. A presence penalty (subtracted from the logit of every token already in the answer; the
# prompt's tokens are not penalised) ends that loop. 1.0 is about what HFEngine's repetition
# penalty of 1.05 takes from a typical top logit of ~20.
PRESENCE_PENALTY = 1.0
IDLE_SECONDS = 10.0  # a loop with nothing to do for this long ends (the next submit starts one)


def openvino_genai():
    """The `openvino_genai` module, imported quietly; MODEL_NOT_FOUND when it is not installed."""
    # `import openvino` imports its model converter, whose telemetry writes ~/intel and sends an
    # analytics event; without the telemetry package it falls back to a no-op stub.
    sys.modules.setdefault("openvino_telemetry", None)
    try:
        import openvino_genai as og
    except ImportError:
        raise MinimaxError(ErrorCode.MODEL_NOT_FOUND,
                           f"OpenVINO GenAI is not installed; reinstall with: {INSTALL}") from None
    return og


def save_ir(gguf: Path, context_window: int) -> None:
    """Write the OpenVINO IR of `gguf` beside it (model, tokenizer, detokenizer; OpenVINO's GGUF
    reader does it while loading) and the context window that `load` reads back."""
    og = openvino_genai()
    try:
        og.LLMPipeline(str(gguf), "CPU", enable_save_ov_model=True, INFERENCE_NUM_THREADS=usable_cpus())
    except (RuntimeError, IndexError, ValueError, OSError) as exc:
        raise _bad_checkpoint(exc, gguf) from exc
    if not (gguf.parent / IR_MODEL).is_file():
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "OpenVINO wrote no model for this GGUF", str(gguf))
    (gguf.parent / IR_INFO).write_text(json.dumps({"context_window": context_window}), encoding="utf-8")


@dataclass(eq=False)  # compared by identity
class Request:
    ids: list[int]
    params: GenerationParams
    limit: int  # max_new_tokens, cut to what the context window leaves
    progress: Progress = NULL_PROGRESS
    future: Future = field(default_factory=Future)
    cached: int = 0  # prompt tokens known to be in the prefix cache already
    admitted: float = 0.0  # when it reached the pipeline: its prefill time starts here, not in the queue
    first: float = 0.0  # when its first token came: its prefill is done
    tokens: list[int] = field(default_factory=list)
    finish: object = None  # OpenVINO's finish reason, once it ends
    handle: object = None
    task: object = None


class OpenVINOEngine(Engine, RequestQueue):
    """A GGUF model compiled by OpenVINO, with the model's own transformers tokenizer."""

    takes_concurrent_calls = True

    def __init__(self, pipeline, tokenizer, info: EngineInfo, og, *,
                 presence_penalty: float = PRESENCE_PENALTY):
        if not tokenizer.chat_template:
            raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the model has no chat template", info.path)
        self.pipeline = pipeline
        self.tokenizer = tokenizer
        self.chat = ChatTokenizer(tokenizer, template_pieces(tokenizer))  # counts as HFEngine does
        self.info = info
        self._og = og
        self.presence_penalty = presence_penalty
        added = tokenizer.get_added_vocab()
        self.eos_ids = frozenset({tokenizer.eos_token_id} - {None}
                                 | {added[m] for m in END_MARKERS if m in added})
        self.max_in_flight = rows_from_env(ROWS)  # how many requests are stepped together
        RequestQueue.__init__(self, "minimax-openvino")
        self._running: dict[int, Request] = {}
        self._next_id = 0

    @classmethod
    def load(cls, path: Path, *, name: str | None = None, context_window: int | None = None,
             threads: int | None = None, cache: Path | None = None,
             progress: Progress = NULL_PROGRESS) -> OpenVINOEngine:
        """Compile `path` (an IR folder from `save_ir`, or a GGUF file) for the CPU; `threads`
        defaults to the CPUs this process may use."""
        from minimax_cli.engine.embedded import gguf_tokenizer

        og = openvino_genai()
        path = Path(path)
        folder = path.is_dir()
        if not (path / IR_MODEL if folder else path).is_file():
            raise MinimaxError(ErrorCode.MODEL_NOT_FOUND, "no such model", str(path))
        task = progress.task(f"loading {name or path.name} (OpenVINO)")
        try:
            scheduler = og.SchedulerConfig()
            scheduler.enable_prefix_caching = True
            scheduler.max_num_batched_tokens = PREFILL_CHUNK
            scheduler.max_num_seqs = rows_from_env(ROWS)
            # cache_size 0: KV blocks are allocated as prompts grow, not a fixed pool up front.
            # No CACHE_DIR property: then OpenVINO writes nothing to disk.
            pipeline = og.ContinuousBatchingPipeline(
                str(path), scheduler, "CPU", {"INFERENCE_NUM_THREADS": threads or usable_cpus()})
            if folder:
                from transformers import AutoTokenizer

                _warm_up(pipeline, og, path / IR_MODEL.replace(".xml", ".bin"))
                tokenizer = AutoTokenizer.from_pretrained(path)
                window = json.loads((path / IR_INFO).read_text(encoding="utf-8"))["context_window"]
            else:  # after the pipeline: a bad file fails fast
                tokenizer, window = gguf_tokenizer(path, cache), gguf_context(path)
        # OpenVINO reports an unknown quant type as RuntimeError, a malformed file as IndexError.
        except (RuntimeError, IndexError, ValueError, OSError, KeyError) as exc:
            raise _bad_checkpoint(exc, path) from exc
        finally:
            task.close()
        info = EngineInfo(name=name or path.name, engine="openvino", path=str(path), quant="gguf",
                          devices=["cpu"], context_window=context_window or window)
        return cls(pipeline, tokenizer, info, og)

    @property
    def batch_concurrency(self) -> int:
        # One document at a time unless --concurrency says otherwise: OpenVINO's batched kernels
        # round differently from one row's, so a long answer can change with what ran beside it,
        # and which documents run together depends on timing. A job's own calls still run
        # together (translate's blocks, summarize's parts): they are in flight at once regardless.
        return 1

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        """Answer `messages`; `completion_tokens` counts the end-of-turn token, as HFEngine does."""
        return self.submit(messages, params, progress).result()

    def submit(self, messages: Sequence[Message], params: GenerationParams,
               progress: Progress = NULL_PROGRESS) -> Future:
        """Queue `messages`; the future resolves to their `Generation`. A prompt too long for the
        window is refused here, before any work."""
        ids = self.chat.prompt_ids(messages)
        return self._enqueue(Request(ids, params, self.room(len(ids), params), progress))

    def generate_many(self, conversations: Sequence[Sequence[Message]], params: GenerationParams,
                      progress: Progress = NULL_PROGRESS) -> list[Generation]:
        """Answer the conversations together, after prefilling their shared prefix (the document)
        once: requests that reach the pipeline in one step would each prefill it."""
        prompts = [self.chat.prompt_ids(c) for c in conversations]
        limits = [self.room(len(ids), params) for ids in prompts]  # refuse before any work
        shared = shared_prefix_length(prompts) // KV_BLOCK * KV_BLOCK if len(prompts) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        started = time.perf_counter()
        if shared:
            self._enqueue(Request(prompts[0][:shared], GenerationParams(max_new_tokens=1), 1)).result()
        prefix_seconds = (time.perf_counter() - started) / len(prompts)
        futures = [self._enqueue(Request(ids, params, limit, progress, cached=shared))
                   for ids, limit in zip(prompts, limits)]
        results = [f.result() for f in futures]
        for g in results:  # each shares the prefix pass's time
            g.prefill_seconds += prefix_seconds
        return results

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._running and not self._closed:
                    if not self._lock.wait(timeout=IDLE_SECONDS) and not self._waiting:
                        self._thread = None
                        return
                if self._closed and not self._running:
                    self._thread = None
                    return
                room = self.max_in_flight - len(self._running)
                waiting = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
            for request in waiting:
                self._add(request)
            try:
                self.pipeline.step()
            except RuntimeError as exc:  # the pipeline is in an unknown state: fail what runs
                error = MinimaxError(ErrorCode.MODEL_ERROR, "OpenVINO failed while generating: "
                                     f"{str(exc).strip().splitlines()[-1]}")
                for request in self._running.values():
                    self._end(request, error=error)
                self._running.clear()
                continue
            statuses = self._og.GenerationStatus
            for rid, request in list(self._running.items()):
                self._collect(request)
                status = request.handle.get_status()
                if status != statuses.RUNNING:
                    del self._running[rid]
                    # IGNORED: the scheduler dropped it (a prompt its KV cache can never hold)
                    self._end(request, error=None if status == statuses.FINISHED else MinimaxError(
                        ErrorCode.MODEL_ERROR, f"OpenVINO did not run the request ({status.name.lower()})"))

    def _add(self, request: Request) -> None:
        import numpy as np
        import openvino as ov

        if not request.future.set_running_or_notify_cancel():
            return
        request.admitted = time.perf_counter()
        request.task = request.progress.task("generating", request.limit, "tokens")
        ids = ov.Tensor(np.array([request.ids], dtype=np.int64))
        try:
            request.handle = self.pipeline.add_request(self._next_id, ids, self._config(request))
        except RuntimeError as exc:  # a bad request fails alone
            self._end(request, error=MinimaxError(ErrorCode.BAD_REQUEST, str(exc).strip().splitlines()[-1]))
            return
        self._running[self._next_id] = request
        self._next_id += 1

    def _collect(self, request: Request) -> None:
        """Take the request's new tokens (the handle hands each token out once)."""
        if not request.handle.can_read():
            return
        for output in request.handle.read().values():
            if output.generated_ids and not request.first:
                request.first = time.perf_counter()
            request.tokens += output.generated_ids
            request.finish = output.finish_reason
            request.task.advance(len(output.generated_ids))

    def _end(self, request: Request, error: Exception | None = None) -> None:
        request.task.close()
        if error is not None:
            request.future.set_exception(error)
            return
        ended = time.perf_counter()
        first = request.first or ended
        try:
            request.future.set_result(self._generation(request, first - request.admitted, ended - first))
        except Exception as exc:  # noqa: BLE001 - whatever decoding raised belongs to this request
            request.future.set_exception(exc)

    def _config(self, request: Request):
        params = request.params
        config = self._og.GenerationConfig()
        config.max_new_tokens = request.limit
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

    def _generation(self, request: Request, prefill: float, decode: float) -> Generation:
        # The handle hands out the end-of-turn token too: it is counted, not shown. OpenVINO may
        # not see a stop string that ends inside a token; it is cut here, as HFEngine does.
        tokens = request.tokens
        ended = bool(tokens) and tokens[-1] in self.eos_ids
        text = self.chat.decode(tokens[:-1] if ended else tokens)
        cut = cut_at_stop(text, request.params.stop) if request.params.stop else None
        stopped = request.finish == self._og.GenerationFinishReason.STOP or cut is not None
        answer, reasoning = split_reasoning(text if cut is None else cut)
        return Generation(
            text=answer, prompt_tokens=len(request.ids), completion_tokens=len(tokens),
            finish_reason="stop" if stopped else "length", prefill_seconds=prefill,
            decode_seconds=decode, reasoning=reasoning, cached_tokens=request.cached,
        )


def _warm_up(pipeline, og, weights: Path) -> None:
    """Run one token through the model, so that OpenVINO's CPU plugin repacks every weight into
    its own layout now (it does so on a node's first run), and keep the IR's pages out of memory.

    The plugin reads the memory-mapped IR once, to repack it, and never again: those file pages
    (1.1 GB for the default model) would stay mapped beside the repacked copy. A thread tells
    the kernel every few milliseconds that the mapping's pages are not needed (MADV_DONTNEED:
    clean file pages leave this process; read again they come back from the page cache), while
    `generate` runs with the GIL released. Peak RSS of the load: 1.85 GB instead of 2.8 GB.
    """
    import numpy as np
    import openvino as ov

    done = threading.Event()

    def drop_pages():
        while not done.wait(0.02):
            _drop_mapped_pages(weights)

    dropper = threading.Thread(target=drop_pages, name="minimax-openvino-pages", daemon=True)
    dropper.start()
    config = og.GenerationConfig()
    config.max_new_tokens = 1
    try:
        pipeline.generate([ov.Tensor(np.zeros((1, 1), dtype=np.int64))], [config])
    finally:
        done.set()
        dropper.join()
    _drop_mapped_pages(weights)


def _drop_mapped_pages(path: Path) -> None:
    """MADV_DONTNEED over this process's mappings of `path` (Linux; elsewhere nothing)."""
    import ctypes
    import ctypes.util

    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    name = str(path.resolve())
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == name:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            libc.madvise(start, end - start, 4)  # MADV_DONTNEED


def _bad_checkpoint(exc: Exception, path: Path) -> MinimaxError:
    return MinimaxError(ErrorCode.BAD_CHECKPOINT, "OpenVINO cannot load the model: "
                        f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}",
                        str(path))


def gguf_context(path: Path) -> int:
    """The context length a GGUF's metadata declares."""
    values = gguf_header.metadata(path, lambda key: key == "general.architecture"
                                  or key.endswith(".context_length"))
    arch = values.get("general.architecture")
    if f"{arch}.context_length" not in values:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the GGUF names no context length; set "
                           "context_window", str(path))
    return int(values[f"{arch}.context_length"])
