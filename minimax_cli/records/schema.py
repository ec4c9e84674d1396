"""A result record and its parts as dataclasses.

`to_json()` gives the dict that is written, key for key and in the written order (optional keys
left out exactly where the writers leave them out), so a record's bytes do not depend on whether it
went through these classes. `from_json()` reads one back: keys that earlier versions did not write
(fingerprints, warnings, optional model and source fields) take defaults, and a JSON object that is
not a record raises `RecordError`. Free-form parts (a task's result, the settings, chat choices)
stay plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BODY_OBJECT = "minimax.result"
CHAT_OBJECT = "chat.completion"

_NUMBER = (int, float)


class RecordError(ValueError):
    """A JSON object that is not a result record: a part that must be an object is not, a value of
    the wrong type, or a body of an unknown kind. A ValueError, as the reader's own complaints are."""


def _take(raw: dict, key: str, kinds: type | tuple[type, ...], default: Any = None, where: str = "") -> Any:
    """`raw[key]` as it is when of `kinds`; `default` when absent or null."""
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds):
        raise RecordError(f"{where}{key} is a {type(value).__name__}")
    return value


def _with(out: dict, **optional: Any) -> dict:
    """`out` and then each optional key that has a value (None, "" and [] are left out, 0 is not)."""
    out.update((key, value) for key, value in optional.items() if value not in (None, "", []))
    return out


def _part(raw: object, where: str) -> dict | None:
    """A nested object, or None where the record has none (null, or an empty value as `{}`)."""
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise RecordError(f"{where} is a {type(raw).__name__}, not an object")
    return raw


@dataclass
class ErrorDetail:
    """A failure's `error`: its stable code, message, the path at fault, and the fingerprint."""

    code: str = ""
    message: str = ""
    path: str | None = None
    fingerprint: str | None = None

    def to_json(self) -> dict:
        return _with({"code": self.code, "message": self.message}, path=self.path, fingerprint=self.fingerprint)

    @classmethod
    def from_json(cls, raw: dict) -> ErrorDetail:
        w = "error."
        return cls(_take(raw, "code", str, "", w), _take(raw, "message", str, "", w), _take(raw, "path", str, None, w),
                   _take(raw, "fingerprint", str, None, w))


@dataclass
class TokenUsage:
    """Tokens a result cost; `cached_tokens` and `calls` are in task records, not in chat answers."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    calls: int | None = None

    def to_json(self) -> dict:
        return _with({"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                      "total_tokens": self.total_tokens}, cached_tokens=self.cached_tokens, calls=self.calls)

    @classmethod
    def from_json(cls, raw: dict | None) -> TokenUsage:
        raw, w = raw or {}, "usage."
        return cls(*(_take(raw, k, _NUMBER, 0, w) for k in ("prompt_tokens", "completion_tokens", "total_tokens")),
                   _take(raw, "cached_tokens", _NUMBER, None, w), _take(raw, "calls", _NUMBER, None, w))


@dataclass
class Timings:
    """Seconds a task took in all, and in prefill and decoding."""

    seconds: float = 0.0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0

    def to_json(self) -> dict:
        return {"seconds": self.seconds, "prefill_seconds": self.prefill_seconds,
                "decode_seconds": self.decode_seconds}

    @classmethod
    def from_json(cls, raw: dict | None) -> Timings:
        raw = raw or {}
        return cls(*(_take(raw, k, _NUMBER, 0.0, "timings.") for k in ("seconds", "prefill_seconds", "decode_seconds")))


@dataclass
class ModelInfo:
    """The model that wrote a result, as its engine describes itself; empty values are left out."""

    name: str = ""
    engine: str = ""
    path: str | None = None
    dtype: str | None = None
    quant: str | None = None
    devices: list[str] = field(default_factory=list)
    context_window: int | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}

    @classmethod
    def from_json(cls, raw: dict | None) -> ModelInfo:
        raw, w = raw or {}, "model."
        return cls(_take(raw, "name", str, "", w), _take(raw, "engine", str, "", w), _take(raw, "path", str, None, w),
                   _take(raw, "dtype", str, None, w), _take(raw, "quant", str, None, w),
                   _take(raw, "devices", list, [], w), _take(raw, "context_window", _NUMBER, None, w))


@dataclass
class Source:
    """The document a result is about: path, kind, sha256, and pages, files or skipped files where
    it has them."""

    path: str = ""
    kind: str = ""
    sha256: str = ""
    pages: int | None = None
    files: int | None = None
    skipped: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return _with({"path": self.path, "kind": self.kind, "sha256": self.sha256}, pages=self.pages,
                     files=self.files, skipped=self.skipped)

    @classmethod
    def from_json(cls, raw: dict | None) -> Source:
        raw, w = raw or {}, "source."
        return cls(_take(raw, "path", str, "", w), _take(raw, "kind", str, "", w), _take(raw, "sha256", str, "", w),
                   _take(raw, "pages", _NUMBER, None, w), _take(raw, "files", _NUMBER, None, w),
                   _take(raw, "skipped", list, [], w))


@dataclass
class ResultBody:
    """A task's success body (`"object": "minimax.result"`)."""

    task: str = ""
    result: dict = field(default_factory=dict)  # the task's own JSON
    source: Source = field(default_factory=Source)
    model: ModelInfo = field(default_factory=ModelInfo)
    settings: dict = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)
    timings: Timings = field(default_factory=Timings)
    strategy: str = ""
    created: int = 0
    prompt_sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    fingerprint: str | None = None

    def to_json(self) -> dict:
        return _with({
            "object": BODY_OBJECT,
            "task": self.task,
            "result": self.result,
            "source": self.source.to_json(),
            "model": self.model.to_json(),
            "settings": self.settings,
            "usage": self.usage.to_json(),
            "timings": self.timings.to_json(),
            "strategy": self.strategy,
            "created": self.created,
            "prompt_sha256": self.prompt_sha256,
        }, warnings=self.warnings, fingerprint=self.fingerprint)

    @classmethod
    def from_json(cls, raw: dict) -> ResultBody:
        w = "body."
        return cls(
            task=_take(raw, "task", str, "", w),
            result=_take(raw, "result", dict, {}, w),
            source=Source.from_json(_take(raw, "source", dict, None, w)),
            model=ModelInfo.from_json(_take(raw, "model", dict, None, w)),
            settings=_take(raw, "settings", dict, {}, w),
            usage=TokenUsage.from_json(_take(raw, "usage", dict, None, w)),
            timings=Timings.from_json(_take(raw, "timings", dict, None, w)),
            strategy=_take(raw, "strategy", str, "", w),
            created=_take(raw, "created", _NUMBER, 0, w),
            prompt_sha256=_take(raw, "prompt_sha256", str, "", w),
            warnings=_take(raw, "warnings", list, [], w),
            fingerprint=_take(raw, "fingerprint", str, None, w),
        )


@dataclass
class ChatCompletion:
    """A chat request's success body, OpenAI's `chat.completion` object."""

    id: str = ""
    created: int = 0
    model: str = ""  # the model's name
    choices: list[dict] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    fingerprint: str | None = None

    def to_json(self) -> dict:
        return _with({"id": self.id, "object": CHAT_OBJECT, "created": self.created, "model": self.model,
                      "choices": self.choices, "usage": self.usage.to_json()}, fingerprint=self.fingerprint)

    @classmethod
    def from_json(cls, raw: dict) -> ChatCompletion:
        w = "body."
        return cls(_take(raw, "id", str, "", w), _take(raw, "created", _NUMBER, 0, w), _take(raw, "model", str, "", w),
                   _take(raw, "choices", list, [], w), TokenUsage.from_json(_take(raw, "usage", dict, None, w)),
                   _take(raw, "fingerprint", str, None, w))


Body = ResultBody | ChatCompletion
_BODIES: dict[str, type[ResultBody] | type[ChatCompletion]] = {BODY_OBJECT: ResultBody, CHAT_OBJECT: ChatCompletion}


def body_from_json(raw: dict) -> Body:
    """A success body by its `object`; RecordError for a kind this program never writes."""
    kind = _take(raw, "object", str, "", "body.")
    if kind not in _BODIES:
        raise RecordError(f"body.object {kind!r} is neither {BODY_OBJECT!r} nor {CHAT_OBJECT!r}")
    return _BODIES[kind].from_json(raw)


@dataclass
class Response:
    """The envelope's `response`: the HTTP-like status (200 success, 400 the input's fault, 500
    the model's) and, for a success, the body."""

    status_code: int | None = None
    request_id: str = ""
    body: Body | None = None

    def to_json(self) -> dict:
        return {"status_code": self.status_code, "request_id": self.request_id,
                "body": None if self.body is None else self.body.to_json()}

    @classmethod
    def from_json(cls, raw: dict) -> Response:
        w = "response."
        body = _part(raw.get("body"), "response.body")
        return cls(_take(raw, "status_code", _NUMBER, None, w), _take(raw, "request_id", str, "", w),
                   None if body is None else body_from_json(body))


@dataclass
class Record:
    """One line of a results file, in the OpenAI Batch output envelope."""

    id: str
    custom_id: str
    response: Response | None = None
    error: ErrorDetail | None = None  # set on failures only

    def to_json(self) -> dict:
        return {"id": self.id, "custom_id": self.custom_id,
                "response": None if self.response is None else self.response.to_json(),
                "error": None if self.error is None else self.error.to_json()}

    @classmethod
    def from_json(cls, raw: object) -> Record:
        if not isinstance(raw, dict):
            raise RecordError(f"a record is a JSON object, not a {type(raw).__name__}")
        custom_id = raw.get("custom_id")
        if not isinstance(custom_id, str):
            raise RecordError("the record has no custom_id")
        response, error = _part(raw.get("response"), "response"), _part(raw.get("error"), "error")
        return cls(_take(raw, "id", str, ""), custom_id, None if response is None else Response.from_json(response),
                   None if error is None else ErrorDetail.from_json(error))

    @property
    def body(self) -> Body | None:
        return None if self.response is None else self.response.body

    @property
    def status_code(self) -> int | None:
        return None if self.response is None else self.response.status_code

    @property
    def fingerprint(self) -> str | None:
        """What the record was written with: a failure's in its error, a success's in its body."""
        if self.error is not None:
            return self.error.fingerprint
        return None if self.body is None else self.body.fingerprint

    @property
    def total_tokens(self) -> int:
        return 0 if self.body is None else self.body.usage.total_tokens

    def stamp(self, fingerprint: str) -> Record:
        """Set the fingerprint where `fingerprint` reads it; the record itself, for chaining."""
        (self.error or self.body).fingerprint = fingerprint  # type: ignore[union-attr]
        return self
