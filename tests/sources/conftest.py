"""Fixtures for the source tests: the samples and an error checker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.sources import load_document

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A copy of samples/repo outside any git work tree."""
    return Path(shutil.copytree(SAMPLES / "repo", tmp_path / "repo"))


@pytest.fixture(autouse=True)
def no_outer_work_tree(tmp_path, monkeypatch):
    """Keep git from finding a work tree above tmp_path: a copy made there is outside git."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@pytest.fixture
def load_error():
    """`load_error(path, code)`: load, expect a MinimaxError with that code naming the path."""

    def check(path: Path | str, code: ErrorCode, **kwargs) -> MinimaxError:
        with pytest.raises(MinimaxError) as info:
            load_document(str(path), **kwargs)
        error = info.value
        assert error.code == code, str(error)
        assert error.path == str(path)
        assert str(path) in str(error) and "\n" not in str(error)
        return error

    return check

