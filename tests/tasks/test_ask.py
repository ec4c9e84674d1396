import json
import re

from minimax_cli.tasks.ask import AskOptions, ask, parse_answer
from tests.fakes import FakeEngine
from tests.tasks.docs import code, pdf, words

PAGES = [
    "Preface. This handbook covers the physics of water.",
    "Contents. Boiling, freezing and steam.",
    "Water boils at 100 degrees Celsius\nat sea level. It freezes at zero degrees.",
    "Steam is water in the gas phase.",
]


def handbook():
    return pdf(PAGES, labels=["i", "ii", "1", "2"])


def reply(answer, *citations):
    return json.dumps({"answer": answer, "citations": [{"excerpt": n, "quote": q} for n, q in citations]})


def test_real_quotes_kept_at_their_real_place_fake_quotes_dropped():
    engine = FakeEngine(
        [
            reply(
                "Water boils at 100 °C at sea level.",
                (3, "water boils at 100 degrees Celsius at sea level"),  # real: spans the line break
                (3, "boils at 90 degrees"),  # not in the text
                (2, "It freezes at zero degrees"),  # real text, wrong page: cited where it is
                (9, "Steam is water"),  # no such excerpt: found on page 4
                (9, "Steam is ice"),  # no such excerpt, nor anywhere
            )
        ]
    )
    [result] = ask(handbook(), engine, ["At what temperature does water boil?"], AskOptions())
    out = result.result
    assert out["answered"] is True and out["strategy"] == "single"
    assert out["citations"] == [
        {"path": "book.pdf", "page": 3, "page_label": "1", "quote": "Water boils at 100 degrees Celsius at sea level"},
        {"path": "book.pdf", "page": 3, "page_label": "1", "quote": "It freezes at zero degrees"},
        {"path": "book.pdf", "page": 4, "page_label": "2", "quote": "Steam is water"},
    ]
    assert out["dropped_citations"] == 2 and out["relocated_citations"] == 2
    assert "book.pdf p.3 (1)" in result.text


def test_excerpts_are_numbered_and_tagged_with_their_locators():
    engine = FakeEngine([reply("I don't know")])
    ask(handbook(), engine, ["Why?"], AskOptions())
    prompt = engine.prompts[0]
    assert "[1] book.pdf p.1 (i)\nPreface." in prompt
    assert "[3] book.pdf p.3 (1)\nWater boils" in prompt
    assert prompt.index("[4] book.pdf") < prompt.index("Question: Why?")


def test_code_citation_is_narrowed_to_the_quoted_lines():
    body = "".join(f"# line {i}\n" for i in range(1, 11))
    body += "def timeout():\n    return   30  # Seconds\n" + "".join(f"# tail {i}\n" for i in range(13, 31))
    doc = code({"app/net.py": body})
    engine = FakeEngine([reply("30 seconds.", (1, "def timeout():\n return 30 # seconds"))])
    [result] = ask(doc, engine, ["What is the timeout?"], AskOptions())
    assert result.result["citations"] == [
        {"path": "app/net.py", "start_line": 11, "end_line": 12, "quote": "def timeout(): return 30 # Seconds"}
    ]
    assert result.result["dropped_citations"] == 0


def test_i_dont_know_is_not_an_answer():
    engine = FakeEngine(['```json\n{"answer": "I don\'t know", "citations": []}\n```'])
    [result] = ask(handbook(), engine, ["Who wrote it?"], AskOptions())
    assert result.result["answered"] is False
    assert result.result["citations"] == [] and result.result["dropped_citations"] == 0


def test_several_questions_share_the_document_prefix_in_one_batch():
    engine = FakeEngine([reply("I don't know"), reply("I don't know")])
    questions = ["When does water boil?", "What is steam?"]
    results = ask(handbook(), engine, questions, AskOptions())
    assert engine.batches == [2]
    first, second = engine.prompts
    prefix = first[: first.index("Question:")]
    assert second.startswith(prefix) and prefix.count("book.pdf p.") == 4
    assert first.split("Question: ")[1].startswith(questions[0])
    assert [r.result["question"] for r in results] == questions
    assert all(r.usage.calls == 1 for r in results)


def test_ranking_finds_the_file_with_the_answer_when_the_repo_does_not_fit():
    files = {f"pkg/module{i}.py": words(120, f"value{i}") + "\n" for i in range(30)}
    files["app/auth.py"] = "def check_password(user, password):\n    return bcrypt.verify(password, user.hash)\n"
    doc = code(files)

    def answer(messages):
        prompt = messages[-1].content
        number = re.search(r"\[(\d+)\] app/auth\.py", prompt).group(1)
        return reply("In app/auth.py.", (int(number), "return bcrypt.verify(password, user.hash)"))

    engine = FakeEngine(answer, context_window=1000)
    [result] = ask(doc, engine, ["Where is the password checked?"], AskOptions())
    assert result.result["strategy"] == "ranked"
    assert result.result["citations"] == [
        {"path": "app/auth.py", "start_line": 2, "end_line": 2, "quote": "return bcrypt.verify(password, user.hash)"}
    ]
    prompt = engine.prompts[0]
    assert prompt.count("pkg/module") < 30  # the window holds only some of the files


def test_ranked_excerpts_keep_document_order_and_split_huge_segments():
    body = "\n".join(words(20, "noise") for _ in range(200)) + "\nThe launch code is 4321.\n"
    doc = code({"notes.txt": body})
    engine = FakeEngine([reply("I don't know")], context_window=1500)
    ask(doc, engine, ["What is the launch code?"], AskOptions())
    prompt = engine.prompts[0]
    assert "The launch code is 4321." in prompt
    tags = [(int(n), int(line)) for n, line in re.findall(r"^\[(\d+)\] notes\.txt:(\d+)", prompt, re.M)]
    assert 1 < len(tags) < 201  # pieces of the one huge segment, not all of them
    assert [n for n, _ in tags] == list(range(1, len(tags) + 1))
    assert [line for _, line in tags] == sorted(line for _, line in tags)


def test_reply_that_is_not_json_becomes_the_answer_without_citations():
    engine = FakeEngine(["Water boils at 100 degrees."])
    [result] = ask(handbook(), engine, ["Boiling point?"], AskOptions())
    assert result.result["answer"] == "Water boils at 100 degrees."
    assert result.result["answered"] is True and result.result["citations"] == []
    assert any("not the JSON" in w for w in result.warnings)


def test_parse_answer_reads_broken_and_cut_off_json():
    answer, cited, structured = parse_answer(
        'Sure! {"answer": "It is 30.", "citations": [{"excerpt": "[2]", "quote": "x = 30"},]}'
    )
    assert (answer, cited, structured) == ("It is 30.", [("[2]", "x = 30")], True)
    answer, cited, _ = parse_answer(
        '{"answer": "The value is \\"thirty\\"", "citations": [{"excerpt": 1, "quote": "thirty"}, {"exc'
    )
    assert answer == 'The value is "thirty"' and cited == [(1, "thirty")]


def test_citation_may_name_its_excerpt_by_number_text_or_locator():
    quote = "Steam is water in the gas phase"
    engine = FakeEngine(
        [reply("Gas.", ("[4]", quote), ("excerpt 4", quote), ("book.pdf p.4 (2)", quote), ("p.4", quote))]
    )
    [result] = ask(handbook(), engine, ["What is steam?"], AskOptions())
    assert [c["page"] for c in result.result["citations"]] == [4]  # the same citation, kept once
    # "p.4" names no excerpt: its quote is found by searching them all
    assert result.result["dropped_citations"] == 0 and result.result["relocated_citations"] == 1
