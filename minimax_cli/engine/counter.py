"""Token counters: an engine's tokenizer half (engine/chat.py) with no weights loaded.

`minimax inspect` and `minimax batch --dry-run` plan jobs with these: counting tokens and
rendering chats exactly as the real engine does (the same `ChatTokenizer`), in a second rather
than a model load.
"""

from __future__ import annotations

from collections.abc import Sequence

from minimax_cli.engine.base import Engine, EngineInfo, Generation, GenerationParams, Message
from minimax_cli.engine.chat import ChatTokenizer, template_pieces
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress


class TokenCounter(Engine):
    """Counts and renders like the engine it stands for; cannot generate."""

    def __init__(self, chat: ChatTokenizer, info: EngineInfo):
        self.chat, self.info = chat, info

    def generate(self, messages: Sequence[Message], params: GenerationParams,
                 progress: Progress = NULL_PROGRESS) -> Generation:
        raise RuntimeError("a token counter holds no weights")


def open_counter(model: str) -> Engine:
    """A counter for `model` (a preset name or a path), with the preset's generation defaults."""
    from minimax_cli.engine.factory import resolve_model

    preset = resolve_model(model)
    counter = _hybrid_counter(preset) if preset.engine == "hybrid" else _hf_counter(preset)
    counter.default_params = preset.generation.to_params()
    return counter


def _hybrid_counter(preset) -> TokenCounter:
    from minimax_cli.engine.factory import hybrid_folder
    from minimax_cli.engine.hybrid.chat import render_pieces
    from minimax_cli.engine.hybrid.config import HybridConfig
    from minimax_cli.engine.hybrid.engine import load_tokenizer

    path = hybrid_folder(preset)
    config = HybridConfig.from_file(path / "config.json")
    info = EngineInfo(name=preset.name, engine="hybrid", path=str(path),
                      context_window=preset.context_window or config.max_position_embeddings)
    return TokenCounter(ChatTokenizer(load_tokenizer(path), render_pieces), info)


def _hf_counter(preset) -> TokenCounter:
    from transformers import AutoConfig, AutoTokenizer

    from minimax_cli.config import cache_dir
    from minimax_cli.engine import embedded
    from minimax_cli.engine.hf.load import config_window

    if preset.embedded:  # the GGUF's tokenizer: no conversion of the weights just to count
        model = embedded.EMBEDDED[preset.embedded]
        converted = model.converted_path(cache_dir())
        path = converted if converted.is_dir() else embedded.joined(model)
    else:
        path = preset.checkpoint_path()
    folder, gguf = (path.parent, path.name) if path.is_file() else (path, None)
    try:
        if gguf and preset.embedded:
            tokenizer = embedded.gguf_tokenizer(path)
        else:
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, trust_remote_code=False)
        config = AutoConfig.from_pretrained(folder, gguf_file=gguf, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, f"cannot load the tokenizer: {exc}", str(path)) from exc
    if not tokenizer.chat_template:
        raise MinimaxError(ErrorCode.BAD_CHECKPOINT, "the model has no chat template", str(path))
    info = EngineInfo(name=preset.name, engine="hf", path=str(path),
                      context_window=preset.context_window or config_window(config, path))
    return TokenCounter(ChatTokenizer(tokenizer, template_pieces(tokenizer)), info)
