import pytest

from minimax_cli.errors import MinimaxError
from minimax_cli.tasks.prompts import TASK_PROMPTS, load_prompt, task_prompt_sha256


def test_every_step_template_is_shipped_and_renders():
    for names in TASK_PROMPTS.values():
        for name in names:
            template = load_prompt(name)
            rendered = template.render(**{p: "{x}" for p in template.placeholders()})
            assert "$" not in rendered and len(template.sha256) == 64


def test_user_folder_comes_first_and_changes_the_fingerprint(tmp_path):
    shipped = task_prompt_sha256("ask")
    (tmp_path / "ask.txt").write_text("Q: $question over $excerpts from $source {braces} $$5", encoding="utf-8")
    template = load_prompt("ask", [tmp_path])
    assert template.render(question="why", excerpts="[1] x", source="s") == "Q: why over [1] x from s {braces} $5"
    assert task_prompt_sha256("ask", [tmp_path]) != shipped
    assert load_prompt("system", [tmp_path]).path.parent.name == "prompts"


def test_unknown_placeholder_and_missing_template_are_errors(tmp_path):
    (tmp_path / "review.txt").write_text("$nope", encoding="utf-8")
    with pytest.raises(MinimaxError):
        load_prompt("review", [tmp_path]).render(code="x", subject="y")
    with pytest.raises(MinimaxError):
        load_prompt("does_not_exist")
