"""A GGUF file's header read straight from disk: metadata values and tensor types.

gguf's own GGUFReader builds a numpy view per vocabulary string, ~11 s for the default model's
header; the loop here reads it in ~0.2 s. Enough for what we ask before loading: the context
length, and whether any tensor has a type OpenVINO cannot read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from minimax_cli.errors import ErrorCode, MinimaxError

# Metadata value types: struct formats of the scalars; 8 is a string, 9 an array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def metadata(path: Path, wanted: Callable[[str], bool]) -> dict:
    """The scalar and string metadata values whose keys `wanted(key)` accepts (arrays skipped)."""
    with open(path, "rb") as f:
        return _Header(f, path).metadata(wanted)


def tensor_types(path: Path) -> dict[str, int]:
    """Each tensor's name and its GGML type number (gguf.GGMLQuantizationType's values)."""
    with open(path, "rb") as f:
        header = _Header(f, path)
        header.metadata(lambda key: False)
        types = {}
        for _ in range(header.tensors):
            name = header.string().decode("utf-8", "replace")
            header.f.seek(8 * header.read("I"), 1)  # the dimensions
            types[name] = header.read("I")
            header.read("Q")  # data offset
        return types


class _Header:
    def __init__(self, f: BinaryIO, path: Path):
        self.f, self.path = f, path
        self.size = path.stat().st_size
        if f.read(4) != b"GGUF":
            raise self.bad("not a GGUF file")
        self.read("I")  # version
        self.tensors = self.read("Q")

    def bad(self, message: str) -> MinimaxError:
        return MinimaxError(ErrorCode.BAD_CHECKPOINT, message, str(self.path))

    def read(self, fmt: str):
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise self.bad("the GGUF header is cut short")
        return struct.unpack("<" + fmt, data)[0]

    def string(self) -> bytes:
        length = self.read("Q")
        if self.f.tell() + length > self.size:  # a damaged length: do not try to allocate it
            raise self.bad("the GGUF header is cut short")
        return self.f.read(length)

    def value(self, kind: int):
        if kind in _SCALARS:
            return self.read(_SCALARS[kind])
        if kind == _STRING:
            return self.string().decode("utf-8", "replace")
        if kind == _ARRAY:
            item, count = self.read("I"), self.read("Q")
            if item in _SCALARS:
                self.f.seek(count * struct.calcsize(_SCALARS[item]), 1)
            else:
                for _ in range(count):
                    self.value(item)
            return None
        raise self.bad(f"unknown GGUF value type {kind}")

    def metadata(self, wanted: Callable[[str], bool]) -> dict:
        values = {}
        for _ in range(self.read("Q")):
            key = self.string().decode("utf-8", "replace")
            found = self.value(self.read("I"))
            if wanted(key) and found is not None:
                values[key] = found
        return values
