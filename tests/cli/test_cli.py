"""The CLI as users call it (Typer's runner), on the synthetic hybrid `tiny` model, and once on the
embedded default model. Results on stdout, errors as one line on stderr with the right exit code."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minimax_cli.cli.app import app
from minimax_cli.cli.exit import ExitStatus
from minimax_cli.records import read_records

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_summarize_json_record_envelope():
    r = run("summarize", "--model", "tiny", "--json", "--max-new-tokens", "8", SAMPLES / "book.txt")
    assert r.exit_code == 0, r.output
    record = json.loads(r.stdout.strip().splitlines()[-1])
    assert record["custom_id"].endswith("book.txt") and record["error"] is None
    body = record["response"]["body"]
    assert record["response"]["status_code"] == 200 and body["task"] == "summarize"
    assert body["model"]["engine"] == "hybrid" and body["usage"]["prompt_tokens"] > 1000
    assert len(body["source"]["sha256"]) == 64 and body["settings"]["max_new_tokens"] == 8


def test_output_file_appends_one_record_per_document(tmp_path):
    out = tmp_path / "out.jsonl"
    for _ in range(2):
        r = run("summarize", "-m", "tiny", "--max-new-tokens", "4", "-o", out, SAMPLES / "book.txt",
                SAMPLES / "book.pdf")
        assert r.exit_code == 0, r.output
        assert r.stdout == ""  # results went to the file
    records = read_records(out)
    assert [Path(x["custom_id"]).name for x in records] == ["book.txt", "book.pdf"] * 2
    assert records[1]["response"]["body"]["source"]["pages"] == 8


def test_bad_documents_become_error_records_and_exit_3(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "out.jsonl"
    r = run("summarize", "-m", "tiny", "--max-new-tokens", "4", "-o", out, empty, SAMPLES / "book.txt",
            tmp_path / "missing.pdf")
    assert r.exit_code == ExitStatus.INPUT
    codes = [(x["error"] or {}).get("code") for x in read_records(out)]
    assert codes == ["empty", None, "not_found"]
    assert "empty.txt" in r.stderr and "missing.pdf" in r.stderr


def test_stdin_dash():
    r = run("summarize", "-m", "tiny", "--json", "--max-new-tokens", "4", "-",
            input="The wharf reopened in 1999.\n\nEveryone came.")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["response"]["body"]["source"]["path"] == "-"


def test_ask_several_questions_share_the_prefill():
    r = run("ask", "-m", "tiny", "--json", "--max-new-tokens", "4", SAMPLES / "book.txt",
            "Who kept the light?", "--question", "When did Marta retire?")
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["custom_id"][-3:] for x in records] == ["#q1", "#q2"]
    assert records[1]["response"]["body"]["usage"]["cached_tokens"] > 500


def test_ask_without_question_is_a_usage_error():
    r = run("ask", "-m", "tiny", SAMPLES / "book.txt")
    assert r.exit_code == ExitStatus.USAGE and "question" in r.stderr


def test_review_diff_and_translate_write(tmp_path):
    r = run("review", "-m", "tiny", "--json", "--max-new-tokens", "4", SAMPLES / "bug.diff")
    assert r.exit_code == 0, r.output
    assert "findings" in json.loads(r.stdout)["response"]["body"]["result"]
    target = tmp_path / "book.fr.txt"
    r = run("translate", "-m", "tiny", "--to", "French", "--max-new-tokens", "4", "--write", target,
            "-o", tmp_path / "t.jsonl", SAMPLES / "book.txt")
    assert r.exit_code == 0, r.output
    result = read_records(tmp_path / "t.jsonl")[0]["response"]["body"]["result"]
    assert target.exists() and 0 <= result["coverage"] <= 1 and result["paragraphs"] > 10


def test_encrypted_pdf_is_a_one_line_error(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(SAMPLES / "book.pdf"))
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as f:
        writer.write(f)
    r = run("summarize", "-m", "tiny", locked)
    assert r.exit_code == ExitStatus.INPUT
    assert r.stderr.count("\n") == 1 and "locked.pdf" in r.stderr and "encrypted" in r.stderr


def test_inspect_json_and_text():
    r = run("inspect", "-m", "tiny", "--json", SAMPLES / "repo", "--task", "ask")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["source"]["kind"] == "repo" and info["plan"]["strategy"] == "single"
    assert info["plan"]["tokens"] > 500
    r = run("inspect", "--text", SAMPLES / "book.pdf")
    assert r.exit_code == 0
    headers = [line for line in r.stdout.splitlines() if line.startswith("==> ")]
    assert headers[0].startswith("==> ") and "p.1 (i)" in headers[0] and len(headers) == 8


def test_models_lists_presets_and_synth_writes_a_checkpoint(tmp_path):
    r = run("models", "--json")
    names = {json.loads(line)["name"] for line in r.stdout.splitlines()}
    assert {"default", "small", "tiny", "minimax-text-01", "minimax-m1-40k", "minimax-m1-80k"} <= names
    r = run("models", "synth", "--preset", "tiny", tmp_path / "ckpt")
    assert r.exit_code == 0 and (tmp_path / "ckpt" / "config.json").exists()
    r = run("models", "synth", "--preset", "tiny", tmp_path / "ckpt")
    assert r.exit_code == ExitStatus.USAGE and "not empty" in r.stderr


def test_score_is_chunk_independent(tmp_path):
    results = []
    for chunk in ("64", "1000"):
        r = run("score", "-m", "tiny", "--chunk", chunk, "--json", SAMPLES / "book.txt")
        assert r.exit_code == 0, r.output
        results.append(json.loads(r.stdout))
    assert results[0]["tokens"] == results[1]["tokens"] > 1000
    assert results[0]["nll"] == pytest.approx(results[1]["nll"], abs=1e-5)


def test_plan_fits_and_does_not(tmp_path):
    r = run("plan", "minimax-text-01", "--gpus", "8", "--gpu-mem", "141", "--context", "1000000", "--json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["fits"] and len(plan["devices"]) == 8
    assert sum(len(d["layers"]) for d in plan["devices"]) == 80
    r = run("plan", "minimax-text-01", "--gpus", "2", "--gpu-mem", "80", "--context", "1000000")
    assert r.exit_code == ExitStatus.NO_FIT and "would fit" in r.stdout


def test_missing_checkpoint_says_what_to_set(monkeypatch):
    monkeypatch.delenv("MINIMAX_TEXT_01_PATH", raising=False)
    r = run("summarize", "-m", "minimax-text-01", SAMPLES / "book.txt")
    assert r.exit_code == ExitStatus.ERROR and "MINIMAX_TEXT_01_PATH" in r.stderr


@pytest.mark.slow
def test_default_model_answers_from_the_book():
    """End to end on the embedded default model: a question whose answer is in the book."""
    r = run("ask", "--json", "--max-new-tokens", "60", SAMPLES / "book.txt", "In which year did Marta retire?")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)["response"]["body"]["result"]
    assert "1902" in result["answer"]


def test_review_diff_against_a_revision_as_sarif(tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    (repo / "stats.py").write_text("def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "one"], check=True)
    (repo / "stats.py").write_text("def total(xs):\n    s = 0\n    for x in xs[1:]:\n        s += x\n    return s\n")
    r = run("review", "-m", "tiny", "--max-new-tokens", "4", "--diff", "HEAD", "--format", "sarif",
            "-o", tmp_path / "r.jsonl", repo)
    assert r.exit_code == 0, r.output
    log = json.loads(r.stdout)
    assert log["version"] == "2.1.0" and log["runs"][0]["tool"]["driver"]["name"] == "minimax"
    body = read_records(tmp_path / "r.jsonl")[0]["response"]["body"]
    assert body["source"]["kind"] == "diff" and body["result"]["files_reviewed"] == 1
    r = run("review", "-m", "tiny", "--diff", "HEAD~5", repo)
    assert r.exit_code == ExitStatus.USAGE and "git:" in r.stderr


def test_new_options_are_checked_before_the_model_loads(tmp_path):
    r = run("summarize", "-m", "tiny", "--strategy", "mapreduce", SAMPLES / "book.txt")
    assert r.exit_code == ExitStatus.USAGE and "incremental" in r.stderr
    r = run("review", "-m", "tiny", "--format", "xml", SAMPLES / "bug.diff")
    assert r.exit_code == ExitStatus.USAGE and "sarif" in r.stderr
    r = run("review", "-m", "tiny", "--format", "sarif", "--json", SAMPLES / "bug.diff")
    assert r.exit_code == ExitStatus.USAGE
    r = run("translate", "-m", "tiny", "--to", "fr", "--glossary", tmp_path / "none.txt", SAMPLES / "book.txt")
    assert r.exit_code == ExitStatus.INPUT and "glossary" in r.stderr


def test_an_engine_out_of_memory_is_an_error_record_and_exit_1(tmp_path, monkeypatch):
    """The single-document commands treat an engine exception as batch does: an error record
    (out_of_memory, status 500), one error line, exit 1; not a traceback."""
    import minimax_cli.engine.factory as factory
    from tests.fakes import FakeEngine

    class OutOfMemory(FakeEngine):
        def generate(self, messages, params, progress=None):
            raise MemoryError("cannot allocate 12 GiB")

    monkeypatch.setattr(factory, "open_engine", lambda *args, **kwargs: OutOfMemory())
    out = tmp_path / "out.jsonl"
    r = run("ask", SAMPLES / "book.txt", "Who kept the light?", "-o", out)
    assert r.exit_code == ExitStatus.ERROR, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    [record] = read_records(out)
    assert record["error"]["code"] == "out_of_memory" and record["response"]["status_code"] == 500
    assert r.stderr.count("\n") == 1 and "out of memory" in r.stderr


def test_a_results_file_that_cannot_take_results_is_refused_before_it_is_touched(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"milk\neggs")  # no trailing newline: the old repair cut "eggs"
    cases = [(notes, "not a results file"), (tmp_path, "is a folder"),
             (tmp_path / "missing" / "out.jsonl", "does not exist")]
    for target, reason in cases:
        r = run("summarize", "-m", "tiny", "-o", target, SAMPLES / "book.txt")
        assert r.exit_code == ExitStatus.CANNOT_WRITE, r.output
        assert r.stderr.count("\n") == 1 and reason in r.stderr
    assert notes.read_bytes() == b"milk\neggs"


def test_blank_questions_are_refused_like_batch_refuses_them():
    for blank in ("", "   "):
        r = run("ask", "-m", "tiny", SAMPLES / "book.txt", blank)
        assert r.exit_code == ExitStatus.USAGE and "non-empty" in r.stderr


def test_a_file_name_with_a_newline_gives_a_one_line_error(tmp_path):
    r = run("summarize", "-m", "tiny", tmp_path / "two\nlines.txt")
    assert r.exit_code == ExitStatus.INPUT
    assert r.stderr.count("\n") == 1 and "two\\nlines.txt" in r.stderr


# ---- shell completion ------------------------------------------------------------------------------

def test_show_completion_prints_a_bash_script_for_minimax(monkeypatch):
    import typer.completion

    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")  # as if run from bash
    r = runner.invoke(app, ["--show-completion"], prog_name="minimax")
    assert r.exit_code == 0, r.output
    assert "complete -o default -F _minimax_completion minimax" in r.stdout
    assert "_MINIMAX_COMPLETE=complete_bash" in r.stdout


def test_completion_completes_without_running_the_root_options():
    """What the shell asks on <TAB>: the commands that match, exit 0; the eager --version on the
    line being completed must not print the versions into the completions."""
    env = {"_MINIMAX_COMPLETE": "complete_bash", "COMP_WORDS": "minimax --version su", "COMP_CWORD": "2"}
    r = runner.invoke(app, [], env=env, prog_name="minimax")
    assert r.exit_code == 0, r.output
    assert r.stdout.split() == ["summarize"]


def test_install_completion_that_cannot_write_is_one_error_line(tmp_path):
    """--install-completion runs while the root parses its options, outside any command: a home
    it cannot write to still gives one `error:` line and exit 1, not a traceback."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    env = {**os.environ, "HOME": str(home), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([sys.executable, "-m", "minimax_cli", "--install-completion", "bash"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == ExitStatus.ERROR, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert str(home) in done.stderr
