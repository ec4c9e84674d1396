"""Where the data folders shipped with the package live (prompts/, configs/).

In a source checkout (editable install) they sit at the repository root; in a wheel they are
force-included under `minimax_cli/_data/` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder `name` (`prompts` or `configs`)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found next to {_PACKAGE}")
