"""The interface tasks use to run text through a model.

An engine knows its context window, counts tokens with the model's own tokenizer, renders chats in
the model's own format and generates. Tasks pass plain-string messages; each engine turns them
into what its model expects (MiniMax wants a list of text parts per message).

Long prompts are never tokenized or run in one piece: engines stream them in chunks.
`generate_many` runs several conversations that share a prefix (one document, several questions);
engines that can snapshot their cache pay the shared prefix's prefill once.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from minimax_cli.engine.chat import ChatTokenizer


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()  # extra stop strings, besides the model's end-of-turn tokens

    def to_dict(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass
class Generation:
    text: str  # the answer, with any <think> block removed
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) | "length"
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    reasoning: str | None = None  # the <think> block of reasoning models, when present
    cached_tokens: int = 0  # prompt tokens served from a shared-prefix snapshot


_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """Strip a leading `<think>...</think>` block (MiniMax-M1); an unclosed one is all reasoning."""
    match = _THINK.match(text)
    if match:
        return text[match.end():], match.group(1).strip()
    stripped = text.lstrip()
    if stripped.startswith("<think>"):
        return "", stripped[len("<think>"):].strip()
    return text, None


@dataclass
class EngineInfo:
    """What a record says about the model that produced it."""

    name: str  # preset name or checkpoint folder name
    engine: str  # hf | hybrid
    path: str | None = None
    dtype: str | None = None
    quant: str | None = None
    devices: list[str] = field(default_factory=list)
    context_window: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


MIN_SHARED_PREFIX = 16  # tokens below which sharing a prefix's prefill costs more than it saves


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
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


def cut_at_stop(text: str, stops: Sequence[str]) -> str | None:
    """`text` up to its earliest stop string, or None when it holds none. The one stop-string
    rule of every engine."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return text[:min(hits)] if hits else None


ROWS_ENV = "MINIMAX_CPU_ROWS"


def rows_from_env(default: int) -> int:
    """Calls a CPU engine decodes together: MINIMAX_CPU_ROWS, else `default`; 1 answers each call
    alone, in the order submitted."""
    value = os.environ.get(ROWS_ENV, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"{ROWS_ENV} must be a whole number of at least 1, not {value!r}")
    return int(value)


class Engine(ABC):
    """A loaded model that tasks call: `hybrid.engine.HybridEngine`, `hf.HFEngine`,
    `openvino.OpenVINOEngine`, and `counter.TokenCounter` (the tokenizer half alone).

    The tokenizer half is the same object in every engine (`chat`, engine/chat.py); each engine
    brings its generator half."""

    info: EngineInfo
    chat: "ChatTokenizer"
    default_params: GenerationParams = GenerationParams()
    # How many jobs a batch keeps in flight on this engine by default (`--concurrency`), and
    # whether calls from several threads at once are safe (and batched): engines with a scheduler.
    max_in_flight: int = 1
    takes_concurrent_calls: bool = False

    @property
    def batch_concurrency(self) -> int:
        """Documents `minimax batch` keeps in flight by default: as many as rows run at once."""
        return self.max_in_flight

    @property
    def context_window(self) -> int:
        return self.info.context_window

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under the model's tokenizer (no chat template)."""
        return self.chat.count_tokens(text)

    def chat_overhead(self, messages: Sequence[Message]) -> int:
        """Tokens the chat template adds around the messages' contents (roles, markers, the
        generation prompt). `count_tokens` of each content plus this is the prompt's length."""
        return self.chat.chat_overhead(messages)

    def room(self, prompt_tokens: int, params: GenerationParams) -> int:
        """How many tokens may follow a prompt of `prompt_tokens`: the one context-window rule.
        TOO_LARGE when none may; else `max_new_tokens`, cut to what the window leaves."""
        room = self.context_window - prompt_tokens
        if room <= 0:
            raise MinimaxError(ErrorCode.TOO_LARGE, f"the prompt has {prompt_tokens} tokens; the context "
                               f"window is {self.context_window}")
        return min(params.max_new_tokens, room)

    def count_chat_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m.content) for m in messages) + self.chat_overhead(messages)

    @abstractmethod
    def generate(
        self, messages: Sequence[Message], params: GenerationParams, progress: Progress = NULL_PROGRESS
    ) -> Generation:
        """Answer the conversation `messages` (the last one is the user's)."""

    def generate_many(
        self,
        conversations: Sequence[Sequence[Message]],
        params: GenerationParams,
        progress: Progress = NULL_PROGRESS,
    ) -> list[Generation]:
        """Answer several conversations; engines that can share a prefix's prefill override this."""
        return [self.generate(c, params, progress) for c in conversations]

    def submit(
        self, messages: Sequence[Message], params: GenerationParams, progress: Progress = NULL_PROGRESS
    ) -> Future:
        """Start answering `messages`; the future resolves to a `Generation`. Engines with a
        scheduler keep many in flight (up to `max_in_flight` rows); this default answers now."""
        future: Future = Future()
        try:
            future.set_result(self.generate(messages, params, progress))
        except Exception as exc:  # the caller sees it from .result(), as from generate
            future.set_exception(exc)
        return future
