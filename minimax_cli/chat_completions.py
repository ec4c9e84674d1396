"""OpenAI chat-completion requests: a request body in, an engine call, a `chat.completion` body out.

Only what a local model can honour is accepted: text content (a string, or a list of
`{"type": "text"}` parts), roles system / developer / user / assistant with the user speaking
last, and the sampling fields `max_tokens` (or `max_completion_tokens`), `temperature`, `top_p`,
`seed` and `stop`. `model` and fields that only shape an API response are ignored; anything that
would change the answer and cannot be honoured (`n` > 1, images, tools) is refused.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from minimax_cli.engine.base import Engine, Generation, GenerationParams, Message
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Fields that ask for something we would silently not do.
REFUSED_FIELDS = ("tools", "functions", "tool_choice", "function_call", "audio", "modalities", "prediction")


@dataclass(frozen=True)
class ChatSpec:
    """A validated chat-completion request; values left None take the preset's defaults."""

    messages: tuple[Message, ...]
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: object) -> ChatSpec:
        """The request `body` of a batch line, checked; BAD_REQUEST saying what is wrong."""
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        for name in REFUSED_FIELDS:
            if body.get(name):
                raise _bad(f"{name} is not supported")
        if body.get("n", 1) != 1:
            raise _bad("n must be 1")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("body.messages must be a non-empty list")
        converted = tuple(_message(m, i) for i, m in enumerate(messages))
        if converted[-1].role != "user":
            raise _bad("the last message must be the user's")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        return cls(
            messages=converted,
            max_new_tokens=_number(max_tokens, "max_tokens", int, minimum=1),
            temperature=_number(body.get("temperature"), "temperature", float, minimum=0),
            top_p=_number(body.get("top_p"), "top_p", float, minimum=0, exclusive=True, maximum=1),
            seed=_number(body.get("seed"), "seed", int),
            stop=_stop(body.get("stop")),
        )

    def params(self, defaults: GenerationParams) -> GenerationParams:
        """The request's values over the preset's `defaults`."""
        return GenerationParams(
            max_new_tokens=defaults.max_new_tokens if self.max_new_tokens is None else self.max_new_tokens,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            seed=defaults.seed if self.seed is None else self.seed,
            stop=self.stop,
        )

    def settings(self, defaults: GenerationParams) -> dict:
        return self.params(defaults).to_dict()

    def run(self, engine: Engine, progress: Progress = NULL_PROGRESS) -> dict:
        """Generate, and answer with an OpenAI `chat.completion` body."""
        generation = engine.generate(self.messages, self.params(engine.default_params), progress)
        return completion_body(generation, engine.info.name)


def completion_body(generation: Generation, model: str) -> dict:
    message: dict = {"role": "assistant", "content": generation.text}
    if generation.reasoning is not None:  # MiniMax-M1's <think> block, as other servers name it
        message["reasoning_content"] = generation.reasoning
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": generation.finish_reason}],
        "usage": {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens,
        },
    }


def _message(raw: object, index: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise _bad(f"{where} must be an object")
    role = ROLES.get(raw.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise _bad(f"{where}.role must be one of {', '.join(ROLES)}")
    content = raw.get("content")
    if isinstance(content, str):
        return Message(role, content)
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _bad(f"{where}: only text content parts are supported, not {kind!r}")
            texts.append(part["text"])
        return Message(role, "\n".join(texts))
    raise _bad(f"{where}.content must be a string or a list of text parts")


def _number(value: object, name: str, kind: type, *, minimum: float | None = None,
            maximum: float | None = None, exclusive: bool = False) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise _bad(f"{name} must be {'an integer' if kind is int else 'a number'}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise _bad(f"{name} must be {'above' if exclusive else 'at least'} {minimum:g}")
    if maximum is not None and value > maximum:
        raise _bad(f"{name} must be at most {maximum:g}")
    return kind(value)


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise _bad("stop must be a string or a list of strings")


def _bad(message: str) -> MinimaxError:
    return MinimaxError(ErrorCode.BAD_REQUEST, message)
