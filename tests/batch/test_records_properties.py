"""Properties of the results file that resume relies on: the reader returns exactly the whole
records and refuses anything else with a ValueError, whatever the file holds; the torn-tail repair
never removes more than a last partial line; the resume rule never trips on a line that is not
a record."""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimax_cli.batch.resume import last_record, latest_records, settled
from minimax_cli.records import (ChatCompletion, ErrorDetail, ModelInfo, Record, RecordError, Response, ResultBody,
                                 Source, Timings, TokenUsage, encode, read_records, repair_tail)
from minimax_cli.records.jsonl import _last_line_start

SOME = settings(max_examples=80, deadline=None)

# ---- what a results file may hold --------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates: `encode` drops them
named = text.filter(bool)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
counts = st.integers(0, 1 << 40)
seconds = st.floats(0, 1e6, allow_nan=False)
leaf = (st.none() | st.booleans() | st.integers(-(1 << 53), 1 << 53) | text
        | st.floats(allow_nan=False, allow_infinity=False))
value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                     max_leaves=6)
objects = st.dictionaries(text, value, max_size=3)

usage = st.builds(TokenUsage, counts, counts, counts, st.none() | counts, st.none() | counts)
result_body = st.builds(
    ResultBody, task=text, result=objects,
    source=st.builds(Source, text, text, hexes, st.none() | counts, st.none() | counts),
    model=st.builds(ModelInfo, text, text, st.none() | text, st.none() | text, st.none() | text,
                    st.lists(named, max_size=2), st.none() | counts),
    settings=objects, usage=usage, timings=st.builds(Timings, seconds, seconds, seconds), strategy=text,
    created=counts, prompt_sha256=hexes, warnings=st.lists(named, max_size=2), fingerprint=st.none() | hexes)
chat_body = st.builds(ChatCompletion, text, counts, text, st.lists(objects, max_size=2), usage, st.none() | hexes)
errors = st.builds(ErrorDetail, text, text, st.none() | named, st.none() | hexes)
records = st.one_of(
    st.builds(Record, text, text, st.builds(Response, st.just(200), text, result_body | chat_body), st.none()),
    st.builds(Record, text, text, st.builds(Response, st.sampled_from([400, 500]), text, st.none()), errors),
)


def line_of(record: Record) -> bytes:
    return encode(record.to_json())[:-1]


# Kinds of line: a whole record; blank; garbage that holds no `{` byte, so it is no JSON object in any
# encoding json.loads detects (it is refused wherever it stands); and a broken record, which starts
# with `{` but is not JSON (cut short, or invalid UTF-8): refused, but skipped as the torn tail.
blank = st.sampled_from([b"", b" ", b"\t", b"\r", b" \r"])
garbage = st.binary(min_size=1, max_size=30).filter(lambda b: b.strip() and b"{" not in b and b"\n" not in b)
broken = st.one_of(
    records.map(line_of).flatmap(lambda line: st.integers(1, len(line) - 1).map(lambda n: line[:n])),
    st.binary(max_size=20).filter(lambda b: b"\n" not in b and b"\0" not in b).map(lambda b: b"{" + b + b"\xff"),
)
lines = st.lists(
    st.one_of(records.map(lambda r: ("record", line_of(r), r)),
              records.map(lambda r: ("record", line_of(r) + b"\r", r)),  # a CRLF file
              blank.map(lambda b: ("blank", b, None)),
              garbage.map(lambda b: ("garbage", b, None)),
              broken.map(lambda b: ("broken", b, None))),
    max_size=6,
)


@contextmanager
def results_file(data: bytes):
    """A file holding `data` (hypothesis runs many examples per test, so no tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="minimax-props-") as folder:
        path = Path(folder) / "out.jsonl"
        path.write_bytes(data)
        yield path


# ---- the reader --------------------------------------------------------------------------------------


@SOME
@given(st.lists(records, max_size=5), st.one_of(st.none(), broken), st.booleans())
def test_the_reader_returns_exactly_the_whole_records(whole, torn, last_newline):
    body = b"\n".join(line_of(r) for r in whole)
    data = body + (b"\n" if whole and (last_newline or torn is not None) else b"") + (torn or b"")
    with results_file(data) as path:
        read = read_records(path)
    assert read == [r.to_json() for r in whole]
    assert [Record.from_json(r) for r in read] == [Record.from_json(r.to_json()) for r in whole]


@SOME
@given(lines, st.booleans())
def test_the_reader_refuses_what_is_not_a_record_and_nothing_else(kinds, last_newline):
    data = b"\n".join(line for _, line, _ in kinds) + (b"\n" if last_newline else b"")
    torn_at = None if last_newline else len(kinds) - 1  # only a last line with no newline may be torn
    bad = next((n for n, (kind, _, _) in enumerate(kinds)
                if kind == "garbage" or (kind == "broken" and n != torn_at)), None)
    with results_file(data) as path:
        if bad is None:
            assert read_records(path) == [r.to_json() for kind, _, r in kinds if kind == "record"]
        else:
            with pytest.raises(ValueError, match=f"line {bad + 1} "):
                read_records(path)


@SOME
@given(st.binary(max_size=200))
def test_the_reader_of_any_bytes_gives_objects_or_a_value_error(data):
    with results_file(data) as path:
        try:
            read = read_records(path)
        except ValueError:
            return
    assert all(isinstance(r, dict) for r in read)


@SOME
@given(st.lists(st.one_of(objects, records.map(Record.to_json),
                          st.fixed_dictionaries({"custom_id": text}, optional={
                              "error": value, "response": value | st.fixed_dictionaries(
                                  {}, optional={"status_code": value, "body": value | objects})})),
                max_size=5),
       st.none() | hexes)
def test_resume_reads_any_json_object_as_a_record_or_as_nothing_settled(objs, fp):
    for obj in objs:
        try:
            record = Record.from_json(obj)
        except RecordError:
            assert last_record(obj) is None
            continue
        assert Record.from_json(record.to_json()).to_json() == record.to_json()
    for raw in latest_records(objs).values():
        assert settled(last_record(raw), fp) in (True, False)


# ---- the torn-tail repair ---------------------------------------------------------------------------


files = st.one_of(st.binary(max_size=200),
                  lines.map(lambda kinds: b"\n".join(line for _, line, _ in kinds)),
                  st.tuples(lines, st.booleans()).map(
                      lambda t: b"\n".join(line for _, line, _ in t[0]) + (b"\n" if t[1] else b"")))


@SOME
@given(files)
def test_repair_removes_at_most_the_last_partial_line(data):
    head = data[:data.rfind(b"\n") + 1]  # every whole line
    tail = data[len(head):]
    with results_file(data) as path:
        try:
            removed = repair_tail(path)
        except ValueError:  # a last line that is someone's text, not a record: never ours to cut
            assert path.read_bytes() == data and not tail.lstrip().startswith(b"{")
            return
        after = path.read_bytes()
    if not tail:
        assert removed == 0 and after == data  # ends in a newline (or empty): byte-identical
    elif removed:
        assert after == head and removed == len(tail) and tail.lstrip().startswith(b"{")
    else:
        assert after == data + b"\n"  # a whole last line only gets its newline
        json.loads(tail)


@SOME
@given(st.binary(max_size=60), st.integers(1, 7))
def test_the_last_line_is_found_whatever_the_block_size(data, block):
    with results_file(data) as path, open(path, "rb") as f:
        start = _last_line_start(f, block)
    assert start == (data.rfind(b"\n", 0, max(len(data) - 1, 0)) + 1 if data else 0)
