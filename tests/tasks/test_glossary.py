import re

import pytest

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.tasks.glossary import Term, load_glossary, missed, prompt_lines, terms_in
from minimax_cli.tasks.translate import TranslateOptions, translate
from tests.fakes import FakeEngine
from tests.tasks.docs import text

UNIT = re.compile(r'^<p id="(\d+)">(.*?)</p>', re.DOTALL | re.MULTILINE)


def test_glossary_file_formats(tmp_path):
    path = tmp_path / "terms.txt"
    path.write_text("# names\nBotchan\nRed Shirt = Chemise Rouge\nschool\t\u00e9cole\nNew York -> Nueva York\n\n")
    terms = load_glossary(path)
    assert terms[0] == Term("Red Shirt", "Chemise Rouge")  # longest first
    assert set(terms) == {
        Term("Botchan", "Botchan"),
        Term("Red Shirt", "Chemise Rouge"),
        Term("school", "\u00e9cole"),
        Term("New York", "Nueva York"),
    }
    as_json = tmp_path / "terms.json"
    as_json.write_text('{"Botchan": "Botchan", "Porcupine": "Hérisson"}')
    assert Term("Porcupine", "Hérisson") in load_glossary(as_json)
    as_json.write_text("[1, 2]")
    with pytest.raises(MinimaxError) as err:
        load_glossary(as_json)
    assert err.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(MinimaxError) as err:
        load_glossary(tmp_path / "missing.txt")
    assert err.value.code is ErrorCode.NOT_FOUND


def test_terms_match_whole_words_ignoring_case():
    terms = (Term("Red Shirt", "Chemise Rouge"), Term("cat", "chat"))
    assert terms_in(terms, "The red shirt smiled.") == [terms[0]]
    assert terms_in(terms, "A catalogue.") == []
    assert missed(terms, "Red Shirt and the cat", "Chemise Rouge et le chien") == ["cat"]
    assert prompt_lines([]) == ""


def test_translate_lists_only_the_blocks_terms_and_reports_misses():
    def reply(messages):
        units = UNIT.findall(messages[-1].content)
        return "\n".join(f'<p id="{n}">{body.replace("Red Shirt", "Chemise Rouge")}</p>' for n, body in units)

    glossary = (Term("Red Shirt", "Chemise Rouge"), Term("Botchan", "Botchan"), Term("Kiyo", "Kiyo-san"))
    engine = FakeEngine(reply)
    doc = text("Red Shirt came in.\n\nKiyo waited.\n\nNobody else.")
    result = translate(doc, engine, TranslateOptions(to="fr", glossary=glossary))
    prompt = engine.prompts[0]
    assert "- Red Shirt -> Chemise Rouge" in prompt and "- Kiyo -> Kiyo-san" in prompt
    assert "Botchan" not in prompt  # not in this block
    assert result.result["translation"].startswith("Chemise Rouge came in.")
    assert result.result["glossary_missed"] == [{"id": 2, "terms": ["Kiyo"]}]
    assert any("glossary" in w for w in result.warnings)
    assert TranslateOptions(to="fr", glossary=glossary).settings()["glossary_sha256"]
