from minimax_cli.cli.docs import DOC, render


def test_cli_reference_is_current():
    """docs/cli.md is generated from --help; regenerate with `python -m minimax_cli.cli.docs`."""
    assert DOC.read_text(encoding="utf-8") == render()
