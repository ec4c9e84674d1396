import re

from minimax_cli.engine.base import GenerationParams
from minimax_cli.tasks.paragraphs import split_paragraphs
from minimax_cli.tasks.translate import TranslateOptions, parse_units, translate
from tests.fakes import FakeEngine
from tests.tasks.docs import text

UNIT = re.compile(r'^<p id="(\d+)">(.*?)</p>', re.DOTALL | re.MULTILINE)  # not the prompt's inline example

SOURCE = """# Getting started

Install the tool first.
It takes a minute.

- one item
- another item

```python
def hello():

    return "do not translate"
```


Last words here.
"""


def upper(messages, skip=()):
    """A 'translation' into capitals, one unit per id; ids in `skip` are left out."""
    units = UNIT.findall(messages[-1].content)
    return "\n".join(f'<p id="{n}">{body.upper()}</p>' for n, body in units if int(n) not in skip)


def test_paragraphs_round_trip_exactly():
    paragraphs = split_paragraphs(SOURCE)
    assert paragraphs.join({}) == SOURCE
    assert [p.translatable for p in paragraphs.items] == [True, True, True, False, True]
    assert paragraphs.items[3].text.startswith("```python") and paragraphs.items[3].text.endswith("```")


def test_translates_every_paragraph_keeping_code_and_markdown():
    engine = FakeEngine(upper)
    result = translate(text(SOURCE), engine, TranslateOptions(to="fr"))
    out = result.result
    assert out["coverage"] == 1.0 and out["misaligned"] == [] and out["paragraphs"] == 4
    assert out["to"] == "fr"
    assert out["translation"] == SOURCE.replace("Getting started", "GETTING STARTED").replace(
        "Install the tool first.\nIt takes a minute.", "INSTALL THE TOOL FIRST.\nIT TAKES A MINUTE."
    ).replace("one item", "ONE ITEM").replace("another item", "ANOTHER ITEM").replace(
        "Last words here.", "LAST WORDS HERE."
    )
    assert "do not translate" not in engine.prompts[0]
    assert "into French" in engine.prompts[0]


def test_markers_are_put_back_when_the_model_drops_them():
    engine = FakeEngine(['<p id="1">Titre</p>\n<p id="2">* un\n* deux</p>'])
    result = translate(text("## Title\n\n- one\n- two"), engine, TranslateOptions(to="French"))
    assert result.result["translation"] == "## Titre\n\n- un\n- deux"


def test_misaligned_block_is_retried_by_paragraph_then_marked():
    calls = []

    def flaky(messages):
        calls.append(messages)
        if len(calls) == 1:
            return upper(messages, skip={2})  # the block comes back without paragraph 2
        if '<p id="3">' in messages[-1].content:
            return '<p id="3"></p>'  # paragraph 3 fails again on its own
        return upper(messages)

    doc = text("First one.\n\nSecond one.\n\nThird one.\n\nFourth one.")
    result = translate(doc, FakeEngine(flaky), TranslateOptions(to="de"))
    out = result.result
    assert len(calls) == 5  # the block, then each of its 4 paragraphs
    assert out["misaligned"] == [3] and out["coverage"] == 0.75
    assert out["translation"] == "FIRST ONE.\n\nSECOND ONE.\n\nThird one.\n\nFOURTH ONE."
    assert any("misaligned" in w for w in result.warnings)


def test_blocks_follow_max_new_tokens():
    doc = text("\n\n".join(f"Paragraph number {i} has some words in it." for i in range(1, 21)))
    engine = FakeEngine(upper)
    result = translate(doc, engine, TranslateOptions(to="es", params=GenerationParams(max_new_tokens=60)))
    assert len(engine.calls) > 1 and result.result["coverage"] == 1.0
    sent = [int(n) for prompt in engine.prompts for n, _ in UNIT.findall(prompt)]
    assert sent == list(range(1, 21))


def test_parse_units():
    assert parse_units('<p id="1">a</p><p id="2">b</p>', [1, 2]) == {1: "a", 2: "b"}
    assert parse_units('<p id="1">a</p><p id="1">b</p>', [1, 2]) is None  # duplicate
    assert parse_units('<p id="1">a</p><p id="2"></p>', [1, 2]) is None  # empty
    assert parse_units('<p id="1">a</p><p id="2">b', [1, 2], complete=False) is None  # cut off
    assert parse_units('<p id="1">a\n<p id="2">b', [1, 2]) == {1: "a", 2: "b"}  # closers forgotten
    assert parse_units("Bonjour.", [7]) == {7: "Bonjour."}
    assert parse_units('<p id="1">Bonjour.</p>', [7]) == {7: "Bonjour."}


def test_a_paragraph_over_the_block_budget_is_cut_at_lines_then_sentences():
    lines = [f"Line {n} has a few words in it." for n in range(1, 31)]  # no blank line: one paragraph
    long_line = " ".join(f"Sentence {n} is short." for n in range(1, 41))
    source = "\n".join(lines) + "\n\n" + long_line + "\n"
    engine = FakeEngine(upper)
    result = translate(text(source), engine, TranslateOptions(to="de", params=GenerationParams(max_new_tokens=60)))
    out = result.result
    assert out["paragraphs"] == 2 and out["coverage"] == 1.0 and out["misaligned"] == []
    assert out["translation"] == source.upper()  # every line break and sentence space where it was
    assert len(engine.calls) > 4  # 30 lines and 40 sentences at a budget of 30 tokens a block
    assert all(len(p.split()) < 120 for p in engine.prompts)


def test_a_failed_piece_leaves_its_paragraph_misaligned_but_keeps_the_rest():
    source = "\n".join(f"Line {n} has a few words in it." for n in range(1, 31)) + "\n"
    engine = FakeEngine(lambda messages: upper(messages, skip={3}))  # the second piece never comes back
    result = translate(text(source), engine, TranslateOptions(to="de", params=GenerationParams(max_new_tokens=60)))
    out = result.result
    assert out["coverage"] == 0.0 and out["misaligned"] == [1]
    translated = out["translation"].split("\n")
    kept = [line for line in translated if line and not line.isupper()]  # the second piece's lines
    assert translated[0] == "LINE 1 HAS A FEW WORDS IN IT." and translated[-2] == "LINE 30 HAS A FEW WORDS IN IT."
    assert kept and len(kept) < 30 and all(line in source for line in kept)
