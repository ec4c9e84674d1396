from minimax_cli.sources.document import Locator, Segment
from minimax_cli.tasks.ranking import BM25, symbols, terms


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


def test_the_definition_outranks_the_places_that_use_a_name():
    segments = [
        Segment("token = request.cookie\nuser = verify_token(token)\nlog(user)", Locator("app/views.py")),
        Segment("def verify_token(token):\n    return hmac.compare(token, SECRET)", Locator("app/security.py")),
        Segment("if verify_token(t):\n    allow()", Locator("app/middleware.py")),
    ]
    assert symbols(segments[1].text) == ["verify_token"]
    assert BM25(segments).rank("where is the token verified?")[0] == 1


def test_symbols_of_several_languages():
    code = "export async function parseArgs() {}\nfunc (s *Server) Handle() {}\npub fn run() {}\nMAX_RETRIES = 3\n"
    assert symbols(code) == ["parseArgs", "Handle", "run", "MAX_RETRIES"]
