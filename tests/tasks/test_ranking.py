from minimax_cli.sources.document import Locator, Segment
from minimax_cli.tasks.ranking import BM25, terms


def test_identifiers_count_by_their_parts():
    assert terms("getUserName max_retries HTTPServer") == [
        "getusername",
        "get",
        "user",
        "name",
        "max_retries",
        "max",
        "retries",
        "httpserver",
        "http",
        "server",
    ]


def test_path_and_identifier_matches_rank_first():
    segments = [
        Segment("def render(page): return html", Locator("app/views.py")),
        Segment("def login(user): return checkPassword(user)", Locator("app/auth.py")),
        Segment("The password policy is documented elsewhere.", Locator("docs/intro.md")),
    ]
    bm25 = BM25(segments)
    assert bm25.rank("where is auth handled?")[0] == 1
    assert bm25.rank("check password")[0] == 1
    assert bm25.rank("unrelated words") == [0, 1, 2]
