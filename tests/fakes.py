"""A scripted engine for tests: canned or computed replies, deterministic token counts, and a log
of every conversation it was sent.

Tokens are whitespace-separated words (or, with `tokens_per_char`, characters times that rate), so
tests can build documents whose sizes they know. Like a real engine it refuses a prompt that leaves
no room for `max_new_tokens` in its context window, and cuts a reply at `max_new_tokens`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from minimax_cli.engine.base import Engine, EngineInfo, Generation, GenerationParams, Message
from minimax_cli.progress import NULL_PROGRESS, Progress

CHAT_OVERHEAD = 10

Reply = Callable[[Sequence[Message]], str]


class FakeEngine(Engine):
    def __init__(
        self,
        responses: list[str] | Reply = (),
        context_window: int = 4096,
        tokens_per_char: float | None = None,
        name: str = "fake",
    ):
        self.info = EngineInfo(name=name, engine="fake", context_window=context_window)
        self.responses = responses if callable(responses) else list(responses)
        self.tokens_per_char = tokens_per_char
        self.calls: list[list[Message]] = []  # every conversation, in order
        self.params: list[GenerationParams] = []  # the params of each call
        self.batches: list[int] = []  # conversations per generate_many call

    def count_tokens(self, text: str) -> int:
        if self.tokens_per_char is not None:
            return math.ceil(len(text) * self.tokens_per_char)
        return len(text.split())

    def chat_overhead(self, messages: Sequence[Message]) -> int:
        return CHAT_OVERHEAD

    def generate(
        self, messages: Sequence[Message], params: GenerationParams, progress: Progress = NULL_PROGRESS
    ) -> Generation:
        prompt = self.count_chat_tokens(messages)
        if prompt + params.max_new_tokens > self.context_window:
            raise ValueError(
                f"prompt of {prompt} tokens + max_new_tokens {params.max_new_tokens} "
                f"exceeds the {self.context_window}-token window"
            )
        self.calls.append(list(messages))
        self.params.append(params)
        text = self._next(messages)
        finish = "stop"
        if self.count_tokens(text) > params.max_new_tokens:
            text, finish = self._cut(text, params.max_new_tokens), "length"
        return Generation(text, prompt, self.count_tokens(text), finish, prefill_seconds=0.01, decode_seconds=0.02)

    def generate_many(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams, progress: Progress = NULL_PROGRESS
    ) -> list[Generation]:
        self.batches.append(len(conversations))
        return [self.generate(c, params, progress) for c in conversations]

    @property
    def prompts(self) -> list[str]:
        """The user turn of each call."""
        return [call[-1].content for call in self.calls]

    def _next(self, messages: Sequence[Message]) -> str:
        if callable(self.responses):
            return self.responses(messages)
        if not self.responses:
            raise AssertionError(f"FakeEngine ran out of scripted replies after {len(self.calls) - 1} calls")
        return self.responses.pop(0)

    def _cut(self, text: str, tokens: int) -> str:
        if self.tokens_per_char is not None:
            return text[: int(tokens / self.tokens_per_char)]
        return " ".join(text.split()[:tokens])
