"""Building records: a task's success, a failure with the status that says whose fault it was,
and the envelope around either."""

from __future__ import annotations

import secrets
import time

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.records.schema import (Body, ErrorDetail, ModelInfo, Record, Response, ResultBody, Source,
                                        Timings, TokenUsage, body_from_json)
from minimax_cli.sources.document import Document
from minimax_cli.tasks.result import TaskResult

# Failures of the model or the machine, not of the input: the same request may succeed on a retry.
MODEL_ERRORS = frozenset(
    {ErrorCode.MODEL_NOT_FOUND, ErrorCode.BAD_CHECKPOINT, ErrorCode.MODEL_ERROR, ErrorCode.OUT_OF_MEMORY}
)


def success_record(
    custom_id: str,
    result: TaskResult,
    doc: Document,
    model: dict,
    settings: dict,
    prompt_sha256: str,
) -> dict:
    """`model` is the engine's own description (`EngineInfo.to_dict()`)."""
    body = ResultBody(
        task=result.task,
        result=result.result,
        source=Source.from_json(doc.source_info()),
        model=ModelInfo.from_json(model),
        settings=settings,
        usage=TokenUsage.from_json(result.usage.to_dict()),
        timings=Timings(
            seconds=round(result.seconds, 3),
            prefill_seconds=round(result.usage.prefill_seconds, 3),
            decode_seconds=round(result.usage.decode_seconds, 3),
        ),
        strategy=result.strategy,
        created=int(time.time()),
        prompt_sha256=prompt_sha256,
        warnings=result.warnings,
    )
    return new_record(custom_id, 200, body, None).to_json()


def error_record(custom_id: str, error: MinimaxError) -> dict:
    status = 500 if error.code in MODEL_ERRORS else 400
    detail = ErrorDetail(code=error.code.value, message=error.message, path=error.path or None)
    return new_record(custom_id, status, None, detail).to_json()


def envelope(custom_id: str, status: int, body: dict | None, error: dict | None) -> dict:
    """One line of an OpenAI Batch output file: a fresh id, the caller's custom_id, and either a
    response body or an error."""
    return new_record(custom_id, status, body_from_json(body) if body else None,
                      ErrorDetail.from_json(error) if error else None).to_json()


def new_record(custom_id: str, status: int, body: Body | None, error: ErrorDetail | None) -> Record:
    """A record under fresh ids."""
    return Record(id=f"mmx_{secrets.token_hex(12)}", custom_id=custom_id,
                  response=Response(status, f"req_{secrets.token_hex(12)}", body), error=error)
