"""Token counters: an engine's tokenizer and chat format with no weights loaded.

`minimax inspect` and `minimax batch --dry-run` plan jobs with these: counting tokens and
rendering chats exactly as the real engine does, in a second rather than a model load.
"""

from __future__ import annotations

from collections import OrderedDict

from minimax_cli.engine.base import Engine, EngineInfo
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS


def open_counter(model: str) -> Engine:
    """An engine for `model` that counts tokens and formats chats exactly as the real one does, but
    holds no weights and cannot generate: enough to plan."""
    from minimax_cli.engine.factory import resolve_model

    preset = resolve_model(model)
    counter = _hybrid_counter(preset) if preset.engine == "hybrid" else _hf_counter(preset)
    counter.default_params = preset.generation.to_params()
    return counter


def _hybrid_counter(preset) -> Engine:
    from minimax_cli.engine.hybrid.config import HybridConfig
    from minimax_cli.engine.factory import hybrid_folder
    from minimax_cli.engine.hybrid.engine import HybridEngine, load_tokenizer

    class HybridCounter(HybridEngine):
        def __init__(self, tokenizer, info: EngineInfo):  # the tokenizer side of HybridEngine only
            self.tokenizer, self.info = tokenizer, info
            self._memo = OrderedDict()

        def generate_many(self, conversations, params, progress=NULL_PROGRESS):
            raise RuntimeError("a token counter holds no weights")

    path = hybrid_folder(preset)
    config = HybridConfig.from_file(path / "config.json")
    info = EngineInfo(name=preset.name, engine="hybrid", path=str(path),
                      context_window=preset.context_window or config.max_position_embeddings)
    return HybridCounter(load_tokenizer(path), info)


def _hf_counter(preset) -> Engine:
    from transformers import AutoConfig, AutoTokenizer

    from minimax_cli.engine import embedded
    from minimax_cli.engine.hf import HFEngine, _config_window

    class HFCounter(HFEngine):
        def __init__(self, tokenizer, info: EngineInfo):  # the tokenizer side of HFEngine only
            self.tokenizer, self.info = tokenizer, info

        def generate(self, messages, params, progress=NULL_PROGRESS):
            raise RuntimeError("a token counter holds no weights")

    path = embedded.prepare(embedded.EMBEDDED[preset.embedded]) if preset.embedded else preset.checkpoint_path()
    folder, gguf = (path.parent, path.name) if path.is_file() else (path, None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, trust_remote_code=False)
        config = AutoConfig.from_pretrained(folder, gguf_file=gguf, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"cannot load the tokenizer: {exc}", str(path)) from exc
    info = EngineInfo(name=preset.name, engine="hf", path=str(path),
                      context_window=preset.context_window or _config_window(config, path))
    return HFCounter(tokenizer, info)
