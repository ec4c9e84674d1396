"""From what the user typed after `--model` to a loaded `Engine`.

`resolve_model` turns a preset name or a path into a checked `Preset`, `open_engine` loads it, and
`list_models` describes every preset for `minimax models`. Engines are imported only when one is
opened, so resolving and listing stay fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from minimax_cli.config import Preset, cache_dir, load_preset, load_presets, preset_names, synth_path
from minimax_cli.engine import embedded
from minimax_cli.engine.base import Engine
from minimax_cli.engine.hybrid.published import MODEL_TYPES
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress



def resolve_model(spec: str) -> Preset:
    """A preset name, or a path to a model folder or .gguf file, as a `Preset` whose files exist.

    Preset names win over same-named folders in the working directory; write `./name` for those.
    Raises MODEL_NOT_FOUND with a one-line message saying what to install or set.
    """
    if spec in preset_names():
        preset = load_preset(spec)
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise MinimaxError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{spec}: no such preset or path (presets: {', '.join(preset_names())})",
            )
        preset = preset_for_path(path)
    if preset.embedded:
        embedded.check_available(embedded.EMBEDDED[preset.embedded])
    else:
        preset.checkpoint_path()  # raises when the path is unset or missing
    return preset


def preset_for_path(path: Path) -> Preset:
    """A preset for a bare path: a .gguf file or a folder with config.json."""
    if path.is_file() and path.suffix == ".gguf":
        return Preset(name=path.stem, engine="hf", path=str(path))
    config = path / "config.json"
    if not config.is_file():
        raise MinimaxError(
            ErrorCode.MODEL_NOT_FOUND,
            "not a model: expected a .gguf file or a folder with config.json", str(path),
        )
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise MinimaxError(
            ErrorCode.BAD_CHECKPOINT, f"unreadable config.json: {exc}", str(path)
        ) from exc
    engine = "hybrid" if model_type in MODEL_TYPES else "hf"
    return Preset(name=path.resolve().name, engine=engine, path=str(path))


def open_engine(spec: str, *, quant: str | None = None, dtype: str | None = None,
                progress: Progress = NULL_PROGRESS) -> Engine:
    """Load the model `spec` names; `quant` and `dtype` override the preset's."""
    preset = resolve_model(spec)
    if preset.engine == "hybrid":
        engine = _open_hybrid(preset, quant=quant, dtype=dtype, progress=progress)
    else:
        engine = _open_hf(preset, quant=quant, dtype=dtype, progress=progress)
    engine.default_params = preset.generation.to_params()
    return engine


def hybrid_folder(preset: Preset, progress: Progress = NULL_PROGRESS) -> Path:
    """A hybrid preset's checkpoint folder: its own path, or its synthetic checkpoint, built into
    the cache on first use."""
    if preset.synth:
        from minimax_cli.synthetic import synth_checkpoint

        return synth_checkpoint(preset.synth, progress)
    return preset.checkpoint_path()


def _open_hybrid(preset: Preset, *, quant: str | None, dtype: str | None, progress: Progress) -> Engine:
    from minimax_cli.engine.hybrid.engine import HybridEngine

    return HybridEngine.from_path(
        hybrid_folder(preset, progress), name=preset.name, dtype=dtype or preset.dtype,
        quant=quant or preset.quant, gpus=preset.gpus, context_window=preset.context_window,
        strip_think=preset.generation.strip_think, progress=progress,
    )


def check_replica_fits(preset: Preset, gpus: int, quant: str | None) -> None:
    """Raise unless one copy of a hybrid preset fits `gpus` GPUs by the device-map plan that
    `minimax plan` prints (the preset's own GPU count is checked by the caller)."""
    from minimax_cli.engine.hybrid.config import HybridConfig
    from minimax_cli.engine.hybrid.devicemap import fit_gpus
    from minimax_cli.engine.hybrid.stream import default_chunk

    config = HybridConfig.from_file(hybrid_folder(preset) / "config.json")
    window = preset.context_window or config.max_position_embeddings
    fit_gpus(config, gpus, window, default_chunk("cuda"), quant or preset.quant)


def cpu_engine() -> str:
    """Which engine runs GGUF models: `MINIMAX_CPU_ENGINE` (openvino | hf), else OpenVINO unless a
    GPU is visible (transformers runs there)."""
    chosen = os.environ.get("MINIMAX_CPU_ENGINE", "").strip().lower()
    if chosen in ("openvino", "hf"):
        return chosen
    if chosen:
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"MINIMAX_CPU_ENGINE must be openvino or hf, not {chosen!r}")
    import torch

    return "hf" if torch.cuda.is_available() else "openvino"


def _open_hf(preset: Preset, *, quant: str | None, dtype: str | None, progress: Progress) -> Engine:
    if (quant or preset.quant) != "none":
        raise MinimaxError(
            ErrorCode.BAD_REQUEST, f"{preset.name}: quantization is for the hybrid engine only"
        )
    gguf = preset.embedded or preset.checkpoint_path().suffix == ".gguf"
    if gguf and cpu_engine() == "openvino":
        from minimax_cli.engine.openvino import OpenVINOEngine

        try:
            path = (embedded.prepare_openvino(embedded.EMBEDDED[preset.embedded], progress=progress)
                    if preset.embedded else preset.checkpoint_path())
            return OpenVINOEngine.load(path, name=preset.name, context_window=preset.context_window,
                                       progress=progress)
        except MinimaxError as exc:
            if exc.code != ErrorCode.BAD_CHECKPOINT or os.environ.get("MINIMAX_CPU_ENGINE"):
                raise
            if not preset.embedded:  # a damaged file stays BAD_CHECKPOINT, not transformers' crash
                from minimax_cli.engine import gguf_header

                gguf_header.tensor_types(preset.checkpoint_path())
            # a GGUF with tensor types or an architecture OpenVINO cannot read: transformers may
            progress.log(f"{preset.name}: {exc.message}; running it with transformers instead")
    from minimax_cli.engine.hf import HFEngine

    if preset.embedded:
        path = embedded.prepare(embedded.EMBEDDED[preset.embedded], progress=progress)
    else:
        path = preset.checkpoint_path()
    return HFEngine.load(
        path, name=preset.name, dtype=dtype or preset.dtype,
        context_window=preset.context_window, progress=progress,
    )


def list_models() -> list[dict]:
    """Each preset for `minimax models`: name, engine, description, where its files are
    (`location`), whether they are there (`present`), and what happens or what to do (`note`)."""
    return [
        {"name": p.name, "engine": p.engine, "description": p.description, **_whereabouts(p)}
        for p in load_presets()
    ]


def _whereabouts(preset: Preset) -> dict:
    if preset.embedded:
        model = embedded.EMBEDDED[preset.embedded]
        for built in (model.openvino_path(cache_dir()), model.converted_path(cache_dir())):
            if built.is_dir():
                return {"location": str(built), "present": True, "note": None}
        try:
            embedded.find_parts(model)
        except MinimaxError as exc:
            return {"location": str(model.openvino_path(cache_dir())), "present": False, "note": exc.message}
        return {"location": str(model.openvino_path(cache_dir())), "present": False,
                "note": "built from the installed parts on first use (under a minute)"}
    if preset.synth:
        folder = synth_path(preset.synth)
        if (folder / "config.json").is_file():
            return {"location": str(folder), "present": True, "note": None}
        return {"location": str(folder), "present": False, "note": "built on first use (seconds)"}
    try:
        return {"location": str(preset.checkpoint_path()), "present": True, "note": None}
    except MinimaxError as exc:
        return {"location": f"${preset.path_env}" if preset.path_env else preset.path,
                "present": False, "note": exc.message}
