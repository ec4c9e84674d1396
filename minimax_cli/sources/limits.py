"""How large an input may be, checked before it is read, and a reader that stops at the cap.

The caps are about the largest context we serve (MiniMax-Text-01: 1M tokens, about 4 MB of text)
and about memory, never about what a file claims: a stat size can be 0 (/dev/zero, a pipe) and a
zip member's declared size can lie, so every read is bounded by the bytes actually produced.

- Text, Markdown, code, diffs and stdin: 16 MiB, about 4M tokens, four full contexts. A novel is
  1-2 MB; a larger text file is a log or a data dump, which no summary of ours serves.
- PDF: 256 MiB. A PDF's size is images and fonts; scanned books with a text layer reach 100-200
  MB. PDFium and pypdf both hold the whole file in memory.
- EPUB: 64 MiB for the archive (illustrated books stay under 50 MB); 16 MiB for any member once
  inflated (one XHTML chapter, capped like a text file); 64 MiB inflated for the whole book.
- Extracted text of one document (PDF, EPUB, folder): 64 Mi characters, 16M tokens: sixteen
  full contexts already take most of an hour to prefill on 8 GPUs. A larger corpus is a batch.
- A file in a folder: `FOLDER_FILE_BYTES` unless the caller says otherwise (generated and vendored
  files are what exceeds it in a source tree).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

MiB = 1 << 20

TEXT_FILE_BYTES = 16 * MiB
PDF_FILE_BYTES = 256 * MiB
EPUB_FILE_BYTES = 64 * MiB
EPUB_MEMBER_BYTES = 16 * MiB
EPUB_INFLATED_BYTES = 64 * MiB
DOCUMENT_CHARS = 64 * MiB
FOLDER_FILE_BYTES = 2_000_000
GITIGNORE_BYTES = 1 * MiB  # rules beyond this are not a real .gitignore

FILE_CAPS = {".pdf": PDF_FILE_BYTES, ".epub": EPUB_FILE_BYTES}


def file_cap(suffix: str) -> int:
    """The cap for a file named directly, by its (lower-case) suffix."""
    return FILE_CAPS.get(suffix, TEXT_FILE_BYTES)


class TooLarge(Exception):
    """A file over its cap; `size` is its stat size, None when only the read found it out."""

    def __init__(self, size: int | None, cap: int):
        super().__init__(size, cap)
        self.size, self.cap = size, cap

    def describe(self) -> str:
        size = f"{self.size:,} bytes, " if self.size else ""
        return size + over_cap(self.cap)


def read_file(path: Path, cap: int) -> bytes:
    """The bytes of `path`: refused by its size before reading, or by the read stopping at `cap`
    + 1 (a pipe or /dev/zero has no size). Raises TooLarge, or OSError."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > cap:
            raise TooLarge(size, cap)
        data = read_at_most(f, cap)
    if data is None:
        raise TooLarge(None, cap)
    return data


def read_at_most(stream: BinaryIO, cap: int) -> bytes | None:
    """All of `stream` when it holds at most `cap` bytes, else None; never reads past `cap` + 1."""
    data = stream.read(cap + 1)
    return None if len(data) > cap else data


def size_text(n: int) -> str:
    """A byte count for a message: "16 MiB" for whole MiB, else the exact count."""
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n:,} bytes"


def over_cap(cap: int) -> str:
    return f"larger than the {size_text(cap)} limit"
