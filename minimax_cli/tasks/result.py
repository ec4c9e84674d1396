"""What every task returns: the task's JSON result, a readable rendering, and the accounting."""

from __future__ import annotations

from dataclasses import dataclass, field

from minimax_cli.engine.base import Generation


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from a shared-prefix snapshot
    calls: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0

    def add(self, gen: Generation) -> None:
        self.prompt_tokens += gen.prompt_tokens
        self.completion_tokens += gen.completion_tokens
        self.cached_tokens += gen.cached_tokens
        self.calls += 1
        self.prefill_seconds += gen.prefill_seconds
        self.decode_seconds += gen.decode_seconds

    def to_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "calls": self.calls,
        }


@dataclass
class TaskResult:
    task: str  # summarize | ask | review | translate
    result: dict  # the task's own JSON (summary, answer + citations, findings, translation ...)
    text: str  # the same result rendered for a terminal
    strategy: str  # how it ran: single | hierarchical | incremental | ranked | ...
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    prompt_sha256: str = ""  # fingerprint of the templates the task renders (prompts.task_prompt_sha256)
