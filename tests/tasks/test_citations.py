from minimax_cli.sources.document import Locator, Segment
from minimax_cli.tasks.citations import cite, find_quote


def test_quote_matches_across_case_whitespace_and_typography():
    text = "He said \u201cthe bridge\u2014finally\u2014\nopened\u201d in 1852."
    span = find_quote(text, '"The bridge-finally- opened"')
    assert span is not None and text[span[0] : span[1]].startswith("the bridge")


def test_elided_quote_needs_its_pieces_in_order():
    text = "The canal was dug in 1790, abandoned in 1890 and restored in 1990."
    assert find_quote(text, "The canal was dug ... restored in 1990") is not None
    assert find_quote(text, "restored in 1990 ... The canal was dug") is None


def test_too_short_or_missing_quote_proves_nothing():
    assert find_quote("a b c 42", "42") is None
    assert find_quote("abc", "abd") is None


def test_soft_hyphen_and_wrapped_lines():
    assert find_quote("compu\u00adtation of   the\n\nresult", "computation of the result") is not None


def test_epub_and_plain_locators():
    assert cite(Segment("Call me Ishmael.", Locator("moby.epub", item="ch01.xhtml")), "call me ishmael") == {
        "path": "moby.epub",
        "item": "ch01.xhtml",
        "quote": "Call me Ishmael",
    }
    assert cite(Segment("Plain text.", Locator("-")), "plain text") == {"path": "-", "quote": "Plain text"}


def test_line_range_counts_from_the_segment_start():
    segment = Segment("alpha\nbeta gamma\ndelta\n", Locator("x.py", start_line=20, end_line=22))
    assert cite(segment, "gamma delta") == {"path": "x.py", "start_line": 21, "end_line": 22, "quote": "gamma delta"}


def test_a_citation_is_checked_again_at_its_own_locator():
    from minimax_cli.tasks.citations import check_citation
    from tests.tasks.docs import code, pdf

    doc = code({"app/net.py": "import os\n\ndef timeout():\n    return 30\n"})
    good = {"path": "app/net.py", "start_line": 3, "end_line": 4, "quote": "def timeout(): return 30"}
    assert check_citation(doc, good)
    assert not check_citation(doc, {**good, "start_line": 2, "end_line": 3})  # off by one: quote not all there
    assert not check_citation(doc, {**good, "start_line": 4, "end_line": 9})  # no such lines
    assert not check_citation(doc, {**good, "path": "app/other.py"})
    book = pdf(["Preface text here.", "Water boils at 100 degrees."], labels=["i", "1"])
    page = {"path": "book.pdf", "page": 2, "page_label": "1", "quote": "boils at 100 degrees"}
    assert check_citation(book, page)
    assert not check_citation(book, {**page, "page": 3})
    assert not check_citation(book, {**page, "page_label": "2"})
    assert not check_citation(book, {**page, "page": 1})
