"""Properties: `clean_text`, `decode` and error rendering never let a surrogate or a line break
through, whatever the input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.clean import clean_text, has_surrogates
from minimax_cli.sources.decoding import BOMS, decode

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
marks = st.sampled_from([b""] + [mark for mark, _, _ in BOMS])


@given(any_text)
def test_clean_text_leaves_no_surrogate_and_keeps_the_rest(text):
    cleaned = clean_text(text)
    assert not has_surrogates(cleaned)
    assert len(cleaned) == len(text) and clean_text(cleaned) == cleaned
    if not has_surrogates(text):
        assert cleaned == text


@settings(max_examples=300)
@given(marks, st.binary(max_size=400))
def test_decode_never_raises_nor_returns_a_surrogate(mark, body):
    decoded = decode(mark + body)
    if decoded.text is None:
        assert decoded.code in (ErrorCode.BINARY, ErrorCode.UNREADABLE) and decoded.reason
    else:
        assert decoded.code is None
        assert not has_surrogates(decoded.text) and "\r" not in decoded.text and "\0" not in decoded.text


@given(st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]),
       st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\0\r"), max_size=200))
def test_decode_round_trips_text_with_its_bom(codec, text):
    mark = {c: m for m, c, _ in BOMS}[codec]
    assert decode(mark + text.encode(codec)).text == text


@given(any_text, any_text)
def test_error_messages_are_one_printable_line(path, message):
    shown = str(MinimaxError(ErrorCode.CORRUPT, message, path))
    assert shown.isprintable() and not has_surrogates(shown)
