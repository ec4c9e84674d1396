"""Hostile input at the command line: whatever goes wrong, one `error:` line on stderr, an exit
code from the README's table, no traceback (unless --debug), and no output file touched."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minimax_cli.cli.app import app
from minimax_cli.cli.exit import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def assert_one_error_line(r, code: int, *words: str) -> None:
    assert r.exit_code == code, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for word in words:
        assert word in r.stderr, r.stderr


def test_version():
    from importlib.metadata import version

    r = run("--version")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == f"minimax {version('minimax-cli')}"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), PermissionError(13, "Permission denied"),
                                 ValueError("bad\nvalue")])
def test_an_unexpected_exception_is_one_line_and_exit_1(monkeypatch, exc):
    import minimax_cli.engine.factory as factory

    def broken():
        raise exc

    monkeypatch.setattr(factory, "list_models", broken)
    r = run("models")
    assert_one_error_line(r, ExitStatus.ERROR, type(exc).__name__, "--debug")


def test_debug_shows_the_traceback_with_the_same_exit_code(monkeypatch):
    import minimax_cli.engine.factory as factory

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(factory, "list_models", broken)
    r = run("--debug", "models")
    assert r.exit_code == ExitStatus.ERROR
    assert "Traceback (most recent call last)" in r.stderr and "RuntimeError: boom" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: internal error: RuntimeError: boom")


def test_ctrl_c_exits_130_with_one_line_and_leaves_the_results_file(tmp_path, monkeypatch):
    import minimax_cli.engine.factory as factory

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(factory, "open_engine", interrupted)
    out = tmp_path / "out.jsonl"
    r = run("summarize", "-o", out, SAMPLES / "book.txt")
    assert_one_error_line(r, ExitStatus.INTERRUPTED, "interrupted")
    assert not out.exists() or out.read_bytes() == b""


def test_library_warnings_are_hidden_unless_debug(monkeypatch):
    import minimax_cli.engine.factory as factory

    def noisy():
        warnings.warn("a noisy library note", DeprecationWarning)
        warnings.warn("another noisy note", UserWarning)
        return []

    monkeypatch.setattr(factory, "list_models", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = run("models")
    assert r.exit_code == 0 and r.stderr == ""
    assert not [w for w in caught if "noisy" in str(w.message)]
    r = run("--debug", "models")
    assert r.exit_code == 0 and "a noisy library note" in r.stderr and "another noisy note" in r.stderr


@pytest.mark.parametrize("case", ["missing", "folder", "latin1"])
def test_a_bad_questions_file_is_an_input_error(tmp_path, case):
    target = {"missing": tmp_path / "none.txt", "folder": tmp_path, "latin1": tmp_path / "q.txt"}[case]
    if case == "latin1":
        target.write_bytes("Qui gardait le phare ? caf\u00e9\n".encode("latin-1"))
    out = tmp_path / "out.jsonl"
    r = run("ask", "-m", "tiny", "-o", out, "--questions-file", target, SAMPLES / "book.txt")
    reason = {"missing": "no such questions file", "folder": "is a folder", "latin1": "UTF-8"}[case]
    assert_one_error_line(r, ExitStatus.INPUT, reason, target.name)
    assert not out.exists()


def test_a_questions_file_is_read(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("Who kept the light?\n\n  When did Marta retire?  \n", encoding="utf-8")
    r = run("ask", "-m", "tiny", "--json", "--max-new-tokens", "2", "--questions-file", questions,
            SAMPLES / "book.txt")
    assert r.exit_code == 0, r.output
    asked = [json.loads(line)["response"]["body"]["result"]["question"] for line in r.stdout.splitlines()]
    assert asked == ["Who kept the light?", "When did Marta retire?"]


def test_lone_surrogates_from_argv_never_reach_the_tokenizer():
    r = run("ask", "-m", "tiny", "--json", "--max-new-tokens", "2", SAMPLES / "book.txt", "Le caf\udce9 ?")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["response"]["body"]["result"]["question"] == "Le caf\ufffd ?"
    r = run("translate", "-m", "tiny", "--json", "--max-new-tokens", "2", "--to", "Fran\udce7ais", "-",
            input="The wharf reopened in 1999.\n\nEveryone came.")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["response"]["body"]["result"]["to"] == "Fran\ufffdais"


def test_non_utf8_argv_under_the_c_locale(tmp_path):
    """The real thing: the console script started with undecodable argv bytes (cron's C locale)."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONPATH": str(ROOT)}
    question = os.fsencode("Who kept the light") + b" caf\xe9?"
    done = subprocess.run([sys.executable, "-m", "minimax_cli", "ask", "-m", "tiny", "--json", "--max-new-tokens",
                           "1", str(SAMPLES / "book.txt"), question], capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    record = json.loads(done.stdout)
    assert record["response"]["body"]["result"]["question"] == "Who kept the light caf\ufffd?"


def test_int8_without_optimum_quanto_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optimum.quanto", None)  # as if the extra were not installed
    out = tmp_path / "out.jsonl"
    r = run("summarize", "-m", "tiny", "--quant", "int8", "--max-new-tokens", "2", "-o", out, SAMPLES / "book.txt")
    assert_one_error_line(r, ExitStatus.ERROR, "optimum-quanto", "pip install 'minimax-cli[int8]'")
    assert not out.exists() or out.read_bytes() == b""


def test_validation_errors_name_the_flags_not_the_fields():
    for args, flag in ((["--max-new-tokens", "0"], "--max-new-tokens"), (["--top-p", "2"], "--top-p"),
                       (["--temperature", "-1"], "--temperature"), (["--length", "huge"], "--length")):
        r = run("summarize", "-m", "tiny", *args, SAMPLES / "book.txt")
        assert_one_error_line(r, ExitStatus.USAGE, flag)
        assert "max_new_tokens" not in r.stderr and "top_p" not in r.stderr
    r = run("translate", "-m", "tiny", "--to", " ", SAMPLES / "book.txt")
    assert_one_error_line(r, ExitStatus.USAGE, "(--to)")
    r = run("batch", SAMPLES, "--task", "summarize", "--max-new-tokens", "0", "--dry-run")
    assert_one_error_line(r, ExitStatus.USAGE, "--max-new-tokens")


def test_inspect_prints_a_file_name_with_a_newline_as_one_line(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "evil\nname.txt").write_text("The wharf reopened in 1999.\n\nEveryone came.\n")
    (folder / "bad\nbinary.bin").write_bytes(b"x\0y")
    r = run("inspect", "-m", "tiny", folder / "evil\nname.txt")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith(str(folder / "evil\\nname.txt"))
    r = run("inspect", "-m", "tiny", folder)
    assert r.exit_code == 0, r.output
    assert "bad\\nbinary.bin" in r.stdout and not any(line.startswith("binary.bin") for line in r.stdout.splitlines())
    r = run("inspect", "--text", folder)
    assert r.exit_code == 0, r.output
    headers = [line for line in r.stdout.splitlines() if line.startswith("==> ")]
    assert headers and all(line.endswith(" <==") for line in headers) and "evil\\nname.txt" in headers[0]
