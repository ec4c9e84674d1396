import json

import pytest

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources.document import Document, Locator, Segment
from minimax_cli.tasks.plan import plan
from tests.fakes import FakeEngine
from tests.tasks.docs import code, pdf, words


def book(pages=12, per_page=50):
    chapters = [("Chapter 1", 0, 4), ("Chapter 2", 4, 8), ("Chapter 3", 8, 12)]
    return pdf([words(per_page, f"p{i}") for i in range(1, pages + 1)], chapters=chapters)


def covered(parts):
    """Segment indices each part covers, in order, asserting the parts are contiguous."""
    position = 0
    for part in parts:
        assert part.start == position or (part.chars and part.start == position - 1)
        position = part.end
    return position


def test_fits_in_one_pass():
    p = plan(book(), FakeEngine(context_window=4000), "summarize", 200)
    assert p.fits and p.strategy == "single"
    assert len(p.parts) == 1 and p.parts[0].end == 12
    assert p.tokens == 12 * 51  # 50 words per page + the separator
    assert p.parts[0].locator == "pages 1–12"


def test_split_packs_whole_chapters_up_to_the_budget():
    p = plan(book(), FakeEngine(context_window=500), "summarize", 100)  # budget 328: one chapter
    assert not p.fits and p.strategy == "split"
    assert [(part.start, part.end) for part in p.parts] == [(0, 4), (4, 8), (8, 12)]
    assert all(part.tokens <= p.budget for part in p.parts)
    assert p.parts[1].locator == "Chapter 2 (pages 5–8)"
    json.dumps(p.to_dict())


def test_small_chapters_share_a_part():
    p = plan(book(per_page=20), FakeEngine(context_window=400), "summarize", 100)
    assert p.strategy == "split"
    assert [(part.start, part.end) for part in p.parts] == [(0, 8), (8, 12)]
    assert p.parts[0].sections == ["Chapter 1", "Chapter 2"]


def test_chapter_too_large_is_split_by_pages():
    p = plan(book(), FakeEngine(context_window=300), "summarize", 50)
    assert covered(p.parts) == 12
    assert len(p.parts) > 3
    assert all(part.tokens <= p.budget for part in p.parts)
    assert all(part.end - part.start < 4 for part in p.parts)


def test_forced_split_keeps_chapters_apart_even_when_it_fits():
    p = plan(book(per_page=20), FakeEngine(context_window=4000), "summarize", 100, split=True)
    assert p.fits and p.strategy == "split"
    assert [(part.start, part.end) for part in p.parts] == [(0, 4), (4, 8), (8, 12)]


def test_without_sections_consecutive_segments_are_packed():
    doc = pdf([words(50) for _ in range(6)])
    p = plan(doc, FakeEngine(context_window=350), "summarize", 100)  # budget 178: three pages
    assert [(part.start, part.end) for part in p.parts] == [(0, 3), (3, 6)]
    assert p.parts[1].locator == "pages 4–6"


def test_segment_too_large_is_split_at_line_breaks_with_narrowed_lines():
    body = "\n".join(f"line{i} " + words(9) for i in range(1, 201)) + "\n"  # 200 lines of 10 words
    doc = code({"big.py": body})
    p = plan(doc, FakeEngine(context_window=1000), "summarize", 100)
    pieces = [s for part in p.parts for s in part.segments(doc)]
    assert len(pieces) > 2 and all(part.chars for part in p.parts)
    assert "".join(s.text for s in pieces) == body
    assert all(s.text.endswith("\n") for s in pieces)  # cut at line breaks
    assert pieces[0].locator.start_line == 1
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert after.locator.start_line == before.locator.end_line + 1
    assert pieces[-1].locator.end_line == 200
    assert pieces[1].text.startswith(f"line{pieces[1].locator.start_line} ")
    assert all(part.tokens <= p.budget for part in p.parts)


def test_text_without_line_breaks_is_split_at_whitespace():
    doc = Document("wall.txt", "text", [Segment(words(3000, "abc"), Locator("wall.txt"))], "x")
    p = plan(doc, FakeEngine(context_window=1000), "summarize", 100)
    pieces = [s.text for part in p.parts for s in part.segments(doc)]
    assert "".join(pieces) == doc.segments[0].text
    assert all(piece.split() and all(w == "abc" for w in piece.split()) for piece in pieces)


def test_review_counts_line_numbers_in_the_plan():
    doc = code({"a.py": "x = 1\ny = 2\n"})
    engine = FakeEngine(context_window=4000)
    assert plan(doc, engine, "review", 100).tokens > plan(doc, engine, "summarize", 100).tokens


def test_window_too_small_for_the_prompt_is_an_error():
    with pytest.raises(MinimaxError) as err:
        plan(book(), FakeEngine(context_window=120), "summarize", 100)
    assert err.value.code is ErrorCode.TOO_LARGE


def test_repository_parts_are_named_by_their_files():
    files = {f"src/mod{i}.py": "\n".join(words(10) for _ in range(20)) + "\n" for i in range(3)}
    p = plan(code(files), FakeEngine(context_window=450), "summarize", 100)  # one file a part
    assert [part.locator for part in p.parts] == [f"src/mod{i}.py:1-20" for i in range(3)]


def test_forced_split_puts_front_matter_with_the_first_chapter():
    doc = pdf([words(5, "title")] + [words(20, f"p{i}") for i in range(8)], chapters=[("One", 1, 5), ("Two", 5, 9)])
    p = plan(doc, FakeEngine(context_window=4000), "summarize", 100, split=True)
    assert [(part.start, part.end) for part in p.parts] == [(0, 5), (5, 9)]
    assert p.parts[0].locator == "One (pages 1–5)"
