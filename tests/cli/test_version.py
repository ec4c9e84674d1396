"""`minimax --version`: the package's version first, then one `name version` line each for Python,
torch, CUDA and the libraries, as importlib.metadata and torch report them."""

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from typer.testing import CliRunner

from minimax_cli.cli import version as version_module
from minimax_cli.cli.app import app

runner = CliRunner()


def installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def version_lines() -> dict[str, str]:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0] == f"minimax {version('minimax-cli')}"  # scripts read the first line
    names = [line.split(" ", 1)[0] for line in lines]
    assert len(names) == len(set(names)), lines
    return dict(line.split(" ", 1) for line in lines)


def test_version_names_each_library_as_installed():
    lines = version_lines()
    assert lines["python"] == platform.python_version()
    for name in ("torch", "transformers", "fla-core", "optimum-quanto", "openvino-genai"):
        assert lines[name] == installed(name), name
    assert lines["torch"] != "not installed"  # a hard dependency


def test_version_says_which_cuda_torch_was_built_for():
    import torch

    cuda = version_lines()["cuda"]
    if torch.version.cuda is None:
        assert cuda == "none (a CPU-only torch build)"
    else:
        assert cuda.startswith(f"{torch.version.cuda} (") and cuda.endswith("visible)")
        assert (cuda.split()[1] == "(no") == (torch.cuda.device_count() == 0)


def test_version_answers_when_torch_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    lines = version_lines()
    assert lines["cuda"].startswith("unknown (torch cannot be imported")
    assert lines["transformers"] == installed("transformers")


def test_a_missing_distribution_is_not_installed():
    assert version_module.distribution_version("minimax-no-such-distribution") == "not installed"
