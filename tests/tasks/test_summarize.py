import pytest

from minimax_cli.engine.base import GenerationParams
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.tasks.summarize import SummarizeOptions, summarize, summarize_plan
from tests.fakes import FakeEngine
from tests.tasks.docs import pdf, words


def book(per_page=50, chapters=True):
    pages = [words(per_page, f"p{i}") for i in range(1, 13)]
    return pdf(pages, chapters=[("One", 0, 4), ("Two", 4, 8), ("Three", 8, 12)] if chapters else ())


def scripted(kind_words: int = 5):
    """Replies naming the step: 'map N' for part summaries, 'merged' for reduces."""
    count = {"map": 0}

    def reply(messages):
        prompt = messages[-1].content
        if prompt.startswith("Below is one part"):
            count["map"] += 1
            return f"map{count['map']} " + words(kind_words - 1, "m")
        return "merged " + words(kind_words - 1, "r")

    return reply


def test_single_pass_when_it_fits():
    engine = FakeEngine(["A short summary."], context_window=4000)
    result = summarize(book(), engine, SummarizeOptions(length="short"))
    assert len(engine.calls) == 1
    assert result.result == {"summary": "A short summary.", "strategy": "single"}
    assert result.strategy == "single" and result.text == "A short summary."
    assert "p1 p1" in engine.prompts[0] and "p12 p12" in engine.prompts[0]
    assert "at most 120 words" in engine.prompts[0]
    assert engine.calls[0][0].role == "system"
    assert result.usage.calls == 1 and result.prompt_sha256


def test_map_then_reduce_summarises_every_part():
    engine = FakeEngine(scripted(), context_window=500)
    opts = SummarizeOptions(params=GenerationParams(max_new_tokens=100))
    result = summarize(book(), engine, opts)
    parts = result.result["parts"]
    assert result.strategy == result.result["strategy"] == "hierarchical"
    assert len(engine.calls) == len(parts) + 1 == 4
    assert [p["locator"] for p in parts] == ["One (pages 1–4)", "Two (pages 5–8)", "Three (pages 9–12)"]
    map_prompts = engine.prompts[:3]
    for i in range(1, 13):  # every page went to exactly one part summary
        assert sum(f"p{i} p{i}" in prompt for prompt in map_prompts) == 1
    assert "Two (pages 5–8)" in map_prompts[1]
    reduce_prompt = engine.prompts[-1]
    for n, part in enumerate(parts, 1):
        assert part["summary"].startswith(f"map{n} ")
        assert f"[{part['locator']}]\n{part['summary']}" in reduce_prompt
    assert result.result["summary"].startswith("merged")


def test_reduce_merges_in_rounds_when_part_summaries_overflow():
    engine = FakeEngine(scripted(kind_words=40), context_window=300)
    opts = SummarizeOptions(length="short", params=GenerationParams(max_new_tokens=40))
    result = summarize(book(chapters=False), engine, opts)
    parts = result.result["parts"]
    assert len(parts) == 4
    reduces = engine.prompts[len(parts) :]
    assert len(reduces) == 3  # two groups, then the final merge of their summaries
    assert "[pages 1–3]" in reduces[0] and "[pages 10–12]" not in reduces[0]
    assert "[pages 10–12]" in reduces[1]
    assert "[pages 1–3 – pages 7–9]" in reduces[2]
    assert all(p.max_new_tokens <= 40 for p in engine.params)


def test_forced_hierarchical_goes_by_chapter_even_when_it_fits():
    engine = FakeEngine(scripted(), context_window=4000)
    result = summarize(book(), engine, SummarizeOptions(strategy="hierarchical"))
    assert len(result.result["parts"]) == 3 and len(engine.calls) == 4


def test_forced_single_pass_that_does_not_fit_is_an_error():
    with pytest.raises(MinimaxError) as err:
        summarize(book(), FakeEngine(context_window=500), SummarizeOptions(strategy="single"))
    assert err.value.code is ErrorCode.TOO_LARGE


def test_unknown_length_is_a_bad_request():
    with pytest.raises(MinimaxError) as err:
        summarize_plan(book(), FakeEngine(), SummarizeOptions(length="epic"))
    assert err.value.code is ErrorCode.BAD_REQUEST


def test_a_cut_off_part_summary_is_a_warning():
    engine = FakeEngine(lambda m: words(500), context_window=500)
    result = summarize(book(), engine, SummarizeOptions(params=GenerationParams(max_new_tokens=100)))
    assert any("part 1" in w and "cut off" in w for w in result.warnings)


def test_incremental_updates_a_running_summary_part_by_part():
    def reply(messages):
        prompt = messages[-1].content
        if "<summary_so_far>" in prompt:
            return "sofar " + prompt.split("<summary_so_far>\n")[1].split()[0]  # echoes what it was given
        return "first"

    engine = FakeEngine(reply, context_window=500)
    opts = SummarizeOptions(strategy="incremental", params=GenerationParams(max_new_tokens=60))
    result = summarize(book(), engine, opts)
    parts = result.result["parts"]
    assert result.strategy == result.result["strategy"] == "incremental"
    assert len(parts) == len(engine.calls) > 1
    assert parts[0]["summary"] == "first" and parts[1]["summary"] == "sofar first"
    assert "<summary_so_far>\nfirst\n</summary_so_far>" in engine.prompts[1]
    assert f"({parts[0]['locator']})" in engine.prompts[1]  # what the summary so far covers
    assert result.result["summary"] == parts[-1]["summary"]
    for i in range(1, 13):  # every page read exactly once
        assert sum(f"p{i} p{i}" in prompt for prompt in engine.prompts) == 1
    assert parts[0]["pages"] == [1, 4] and parts[0]["path"] == "book.pdf"


def test_incremental_that_fits_in_one_part_is_a_single_pass():
    engine = FakeEngine(["Short."], context_window=4000)
    result = summarize(book(), engine, SummarizeOptions(strategy="incremental"))
    assert result.strategy == "single" and len(engine.calls) == 1


def test_chapters_are_summarised_with_their_ranges_and_merged():
    engine = FakeEngine(scripted(), context_window=4000)
    result = summarize(book(), engine, SummarizeOptions(chapters=True))
    out = result.result
    assert out["strategy"] == "hierarchical" and len(engine.calls) == 4  # 3 chapters, 1 merge: nothing read twice
    assert [c["title"] for c in out["chapters"]] == ["One", "Two", "Three"]
    assert out["chapters"][1] == {
        "title": "Two",
        "locator": "Two (pages 5–8)",
        "path": "book.pdf",
        "pages": [5, 8],
        "page_labels": ["5", "8"],
        "summary": "map2 m m m m",
    }
    assert [p["locator"] for p in out["parts"]] == [c["locator"] for c in out["chapters"]]
    assert "[Two (pages 5–8)]\nmap2" in engine.prompts[-1]
    assert "## Two (pages 5–8)\nmap2" in result.text


def test_a_chapter_too_large_for_one_call_is_summarised_in_pieces():
    pages = [words(50, f"p{i}") for i in range(1, 9)]
    doc = pdf(pages, chapters=[("Front", 0, 1), ("Long", 1, 8)])
    engine = FakeEngine(scripted(), context_window=300)
    result = summarize(doc, engine, SummarizeOptions(chapters=True, params=GenerationParams(max_new_tokens=40)))
    chapters = result.result["chapters"]
    assert [c["pages"] for c in chapters] == [[1, 1], [2, 8]]
    assert chapters[1]["summary"].startswith("merged")  # its pieces, merged into one
    long_pieces = [p for p in engine.prompts if p.startswith("Below is one part") and "Long (pages 2–8)," in p]
    assert len(long_pieces) > 1


def test_text_outside_chapters_is_summarised_but_not_listed_as_a_chapter():
    doc = pdf([words(30, f"p{i}") for i in range(1, 7)], chapters=[("One", 2, 4), ("Two", 4, 6)])
    engine = FakeEngine(scripted(), context_window=4000)
    result = summarize(doc, engine, SummarizeOptions(chapters=True))
    assert [c["title"] for c in result.result["chapters"]] == ["One", "Two"]
    assert [p["pages"] for p in result.result["parts"]] == [[1, 2], [3, 4], [5, 6]]


def test_chapters_without_sections_is_a_warning():
    engine = FakeEngine(["Whole."], context_window=4000)
    result = summarize(book(chapters=False), engine, SummarizeOptions(chapters=True))
    assert result.result["chapters"] == [] and result.strategy == "single"
    assert any("no chapters" in w for w in result.warnings)


def test_unknown_strategy_is_a_bad_request():
    with pytest.raises(MinimaxError) as err:
        summarize_plan(book(), FakeEngine(), SummarizeOptions(strategy="mapreduce"))
    assert err.value.code is ErrorCode.BAD_REQUEST
