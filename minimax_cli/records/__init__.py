"""Result records: one JSON object per line, in the OpenAI Batch output envelope.

A success is `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error":
null}` whose body carries the task's result with its source, model, settings, usage and timings; a
failure has `"body": null` and `"error": {"code", "message"}`, status 400 when the input was at
fault and 500 when the model was. Tools that know only OpenAI's schema read these files as they are.

Writers (batch/output.py) append and fsync each line, so a crash loses at most the line being
written; readers skip such a torn last line, and `repair_tail` removes it before more lines are
appended. A file that is not a results file is refused before it is touched (`check_results_file`).

- schema.py: the record and its parts as dataclasses (`Record.from_json`, `.to_json()`)
- build.py: `success_record`, `error_record`, `envelope`
- jsonl.py: the file: `encode`, `read_records`, `repair_tail`, `check_results_file`, `canonical_json`
"""

from minimax_cli.records.build import MODEL_ERRORS, envelope, error_record, new_record, success_record
from minimax_cli.records.jsonl import (ResultsFileError, canonical_json, check_results_file, encode, read_records,
                                       repair_tail)
from minimax_cli.records.schema import (BODY_OBJECT, CHAT_OBJECT, Body, ChatCompletion, ErrorDetail, ModelInfo,
                                        Record, RecordError, Response, ResultBody, Source, Timings, TokenUsage,
                                        body_from_json)

__all__ = [
    "BODY_OBJECT", "CHAT_OBJECT", "MODEL_ERRORS", "Body", "ChatCompletion", "ErrorDetail", "ModelInfo", "Record",
    "RecordError", "Response", "ResultBody", "ResultsFileError", "Source", "Timings", "TokenUsage",
    "body_from_json", "canonical_json", "check_results_file", "encode", "envelope", "error_record", "new_record",
    "read_records", "repair_tail", "success_record",
]
