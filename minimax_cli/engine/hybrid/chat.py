"""MiniMax's chat format, rendered as pieces so a long document is tokenized in chunks.

The published template (tokenizer_config.json) reads only the first text part of user and system
messages; we render the same text ourselves, as a list of (text, is_content) pieces, so that the
document inside a message is never one giant string to tokenize and never has its literal
"<end_of_sentence>" read as a control token. tests/engine/hybrid/test_engine.py checks that the
joined pieces equal the checkpoint's own template output.
"""

from __future__ import annotations

from collections.abc import Sequence

from minimax_cli.engine.base import Message
from minimax_cli.engine.hybrid.published import BOD_TOKEN as BOD
from minimax_cli.engine.hybrid.published import BOS_TOKEN as BOS
from minimax_cli.engine.hybrid.published import EOS_TOKEN as EOS

_HEADERS = {
    "system": f"{BOS}system ai_setting=assistant\n",
    "user": f"{BOS}user name=user\n",
    "assistant": f"{BOS}ai name=assistant\n",
}
_END = f"{EOS}\n"


def render_pieces(messages: Sequence[Message], add_generation_prompt: bool = True) -> list[tuple[str, bool]]:
    """[(text, is_content)]: template markup pieces (False) around message contents (True)."""
    pieces: list[tuple[str, bool]] = [(BOD, False)]
    for m in messages:
        if m.role not in _HEADERS:
            raise ValueError(f"unknown chat role {m.role!r}")
    # the template gathers every system message into one block before the conversation
    system = [m.content for m in messages if m.role == "system"]
    if "".join(system):
        pieces += [(_HEADERS["system"], False), *((s, True) for s in system), (_END, False)]
    for m in messages:
        if m.role != "system":
            pieces += [(_HEADERS[m.role], False), (m.content, True), (_END, False)]
    if add_generation_prompt:
        pieces.append((_HEADERS["assistant"], False))
    return pieces


def as_parts(messages: Sequence[Message]) -> list[dict]:
    """The messages in the checkpoint template's own input form: content as a list of text parts,
    the whole content in the first (and only) part."""
    return [{"role": m.role, "content": [{"type": "text", "text": m.content}]} for m in messages]
