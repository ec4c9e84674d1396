"""The tokenizer half of every engine: chats to prompt ids, token counts, ids back to text.

A chat is rendered as (text, is_content) pieces: the chat format's markup around the messages'
contents. Markup is encoded with control tokens recognised; contents are encoded with control-token
names kept as text (a document that quotes "<|im_end|>" must not end the turn), and in pieces cut
where a byte-level BPE tokenizer gives the same ids as for the whole text (pieces.py), so a long
document is never one tokenizer call. The number of tokens of a prompt is therefore the sum of its
contents' counts and the markup's (`chat_overhead`), which is what the planner relies on.

Renderers: MiniMax's own format (hybrid/chat.py) and `template_pieces`, which renders any model's
Jinja chat template around placeholders and puts the contents back in their place.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from minimax_cli.engine.base import Message
from minimax_cli.engine.pieces import split_for_tokenizer
from minimax_cli.errors import ErrorCode, MinimaxError

Pieces = list[tuple[str, bool]]  # (text, is_content)
Renderer = Callable[[Sequence[Message]], Pieces]

_MEMO = 8  # contents remembered: a document is counted by the planner, then prefilled


class ChatTokenizer:
    def __init__(self, tokenizer, render: Renderer):
        self.tokenizer = tokenizer
        self.render = render
        self._memo: OrderedDict[tuple[int, int], list[int]] = OrderedDict()
        self._lock = threading.Lock()  # jobs in flight together share the engine

    def encode_content(self, text: str) -> list[int]:
        """Ids of a message content; control-token names in it stay text."""
        key = (len(text), hash(text))
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        ids: list[int] = []
        for piece in split_for_tokenizer(text):
            ids += self.tokenizer.encode(piece, add_special_tokens=False, split_special_tokens=True)
        with self._lock:
            self._memo[key] = ids
            if len(self._memo) > _MEMO:
                self._memo.popitem(last=False)
        return ids

    def encode_markup(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        ids: list[int] = []
        for text, is_content in self.render(messages):
            ids += self.encode_content(text) if is_content else self.encode_markup(text)
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self.encode_content(text))

    def chat_overhead(self, messages: Sequence[Message]) -> int:
        pieces = self.render(messages)
        markup = sum(len(self.encode_markup(text)) for text, is_content in pieces if not is_content)
        if any(is_content for _, is_content in pieces) or not messages:
            return markup
        # the template rendered the contents itself (template_pieces' fallback): they are in markup
        return markup - sum(self.count_tokens(m.content) for m in messages)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


_SLOT = "\ue000{}\ue001"  # a content placeholder: private-use characters no template touches
_SLOT_PATTERN = re.compile("\ue000(\\d+)\ue001")


def template_pieces(tokenizer) -> Renderer:
    """A renderer for the tokenizer's own Jinja chat template (transformers models, GGUF files).

    The template renders placeholders, and the contents go back in their place. A template that
    rewrites or repeats contents gets them rendered for real, as one piece of markup."""

    def render(messages: Sequence[Message]) -> Pieces:
        rendered = _apply(tokenizer, [Message(m.role, _SLOT.format(i)) for i, m in enumerate(messages)])
        parts = _SLOT_PATTERN.split(rendered)  # markup, index, markup, index, ..., markup
        if sorted(int(i) for i in parts[1::2]) != list(range(len(messages))):
            return [(_apply(tokenizer, messages), False)]
        pieces: Pieces = []
        for k, text in enumerate(parts):
            if k % 2:
                pieces.append((messages[int(text)].content, True))
            elif text:
                pieces.append((text, False))
        return pieces

    return render


def _apply(tokenizer, messages: Sequence[Message]) -> str:
    import jinja2

    chat = [{"role": m.role, "content": m.content} for m in messages]
    try:
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    except jinja2.TemplateError as exc:  # also what a template's raise_exception() raises
        raise MinimaxError(
            ErrorCode.BAD_REQUEST, f"the model's chat template rejects this conversation: {exc}"
        ) from exc
