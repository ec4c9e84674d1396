"""Text from anywhere (argv, stdin, files, request lines), made safe once at the edge.

Python hands undecodable bytes through as lone surrogates (argv and stdin under the C / C.UTF-8
locales that cron and containers use, `os.fsdecode` of odd file names, `\\udXXX` escapes in JSON).
They cannot be encoded as UTF-8, so a tokenizer or a JSON writer that meets one crashes. Every
text that enters the program passes through `clean_text` first; nothing below it sees a surrogate.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a no-op for ordinary text)."""
    return _SURROGATE.sub(REPLACEMENT, text)


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None
