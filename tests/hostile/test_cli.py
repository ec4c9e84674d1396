"""The same hostile inputs through the CLI (`inspect --text` loads no model): one line on stderr,
exit 3, and no secret on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.conftest import SECRET

typer_testing = pytest.importorskip("typer.testing")
try:
    from minimax_cli.cli.app import app
except ImportError as e:  # the CLI is being restructured elsewhere; the sources tests still run
    pytest.skip(f"the CLI does not import: {e}", allow_module_level=True)

runner = typer_testing.CliRunner()
INPUT_ERROR = 3


def inspect_text(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["inspect", "--text", *args], input=input)


def secret_folder(tmp_path: Path, ignored: str) -> Path:
    """A folder with one good file, a .gitignored secret named `ignored`, and a link to a secret
    outside it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "good.txt").write_text("Harbour notes.\n")
    (root / ".gitignore").write_text(f"{ignored}\n")
    (root / ignored).write_text(f"{SECRET}\n")
    (tmp_path / "outside.txt").write_text(f"{SECRET} outside\n")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    return root


def test_folder_with_secrets_behind_links_and_ignores(tmp_path):
    root = secret_folder(tmp_path, ".env")
    (root / "loop").symlink_to("loop")
    result = inspect_text(str(root))
    assert result.exit_code == 0, result.output
    assert "Harbour notes." in result.stdout and SECRET not in result.output


def test_binary_named_with_a_newline(tmp_path):
    path = tmp_path / "evil\nname.txt"
    path.write_bytes(b"text" * 3000 + b"\0")
    result = inspect_text(str(path))
    assert result.exit_code == INPUT_ERROR
    assert result.stderr.count("\n") == 1 and "evil\\nname.txt" in result.stderr and "offset 12000" in result.stderr


def test_non_utf8_stdin_bytes():
    data = b"The caf\xc3\xa9 opened at dawn, when the boats came in with the tide.\n" * 2 + b"stray \xe9\n"
    result = inspect_text("-", input=data)
    assert result.exit_code == 0, result.output
    assert "caf\u00e9" in result.stdout and "stray \ufffd" in result.stdout


def test_zero_page_pdf(tmp_path):
    from pypdf import PdfWriter

    path = tmp_path / "blank.pdf"
    with open(path, "wb") as f:
        PdfWriter().write(f)
    result = inspect_text(str(path))
    assert result.exit_code == INPUT_ERROR and "the PDF has no pages (empty)" in result.stderr


def test_sample_still_reads(tmp_path):
    result = inspect_text(str(Path(__file__).resolve().parents[2] / "samples" / "book.txt"))
    assert result.exit_code == 0 and "Gannet Point" in result.stdout


def test_batch_reads_a_folder_by_the_same_rule(tmp_path):
    """`minimax batch FOLDER` skips the link out and the .gitignored file (and says so), as every
    other command does: neither becomes a job, so no record carries their text or hash."""
    import hashlib
    import json

    root = secret_folder(tmp_path, "secrets.txt")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(root), "--task", "summarize", "-m", "tiny", "--max-new-tokens", "2",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["custom_id"] for r in records] == ["good.txt"]
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "secrets.txt", tmp_path / "outside.txt")}
    assert SECRET not in out.read_text() and not any(h in out.read_text() for h in hashes)
    assert "skipped link.txt: a link to" in result.stderr
    no_ignore = runner.invoke(app, ["batch", str(root), "--task", "summarize", "-m", "tiny", "--max-new-tokens", "2",
                                    "--no-ignore", "--dry-run"])
    assert "secrets.txt" in no_ignore.stdout and "link.txt" not in no_ignore.stdout
