"""Rewrite the GGUF tensors OpenVINO GenAI cannot read as Q8_0.

llama.cpp's Q4_K_M mix stores some tensors of small models as Q5_0 (the `small` preset,
qwen2.5-coder-0.5b, has 133 of them, token_embd included), and OpenVINO GenAI's GGUF reader
rejects the file. Q8_0 holds every Q5_0/Q5_1 value to within rounding and OpenVINO reads it,
so a one-off rewrite of just those tensors makes the model loadable with no visible change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, Keys
from gguf.quants import dequantize, quantize, quant_shape_from_byte_shape, quant_shape_to_byte_shape

from minimax_cli.engine import gguf_header

# Tensor types OpenVINO GenAI's GGUF reader cannot read. Checked with openvino-genai 2026.4 on
# the CPU: our models' F32, Q4_K, Q6_K and Q8_0 tensors load, Q5_0 fails ("gguf_tensor_to_f16
# failed"). The reader unpacks Q4_0, Q4_1, Q4_K and Q8_0 itself and hands other types to gguflib's
# f16 conversion, which knows no 5-bit format, so Q5_1 fails the same way.
UNREADABLE = frozenset({GGMLQuantizationType.Q5_0, GGMLQuantizationType.Q5_1})

# What unreadable tensors become: 8 bits per value with one f16 scale per block of 32, the same
# blocks as Q5_0/Q5_1, so every 5-bit value survives to within Q8_0's rounding.
TARGET = GGMLQuantizationType.Q8_0

# Rows are converted in slices of about this many values (64 MB as f32): gguf's (de)quantize keep
# a second full-size copy while they assemble their result, which for the 151936x896 embedding
# would be two 545 MB f32 arrays at once.
CHUNK_VALUES = 1 << 24


def requantize(src: Path, dest: Path) -> bool:
    """Write `src` to `dest` with every tensor of an `UNREADABLE` type turned into Q8_0.

    Metadata and all other tensors are copied unchanged. Returns False, writing nothing, when
    `src` has no such tensor. Tensors are converted one at a time, so the memory needed is about
    one converted tensor. `dest` is written in place: the caller picks a temporary name if needed.
    """
    if not any(kind in UNREADABLE for kind in gguf_header.tensor_types(src).values()):
        return False  # known from the header alone: GGUFReader takes ~11 s on the default model
    reader = GGUFReader(src)

    architecture = reader.get_field(Keys.General.ARCHITECTURE).contents()
    writer = GGUFWriter(dest, architecture, endianess=reader.endianess)
    # A custom general.alignment is copied below as a plain field; the writer must also pad by it.
    writer.data_alignment = reader.alignment

    # Metadata as in gguf's scripts/gguf_new_metadata.py: the writer adds general.architecture
    # itself, and the GGUF.* fields are the reader's view of the header, not stored key-values.
    for field in reader.fields.values():
        if field.name == Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)

    # The header lists every tensor's type and size before any data, so declare them all first.
    for tensor in reader.tensors:
        if tensor.tensor_type in UNREADABLE:
            shape = quant_shape_from_byte_shape(tensor.data.shape, tensor.tensor_type)
            byte_shape = quant_shape_to_byte_shape(shape, TARGET)
            writer.add_tensor_info(tensor.name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)),
                                   TARGET)
        else:
            writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                                   tensor.tensor_type)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    # tensor.data is a view into the memory-mapped source: untouched tensors are copied byte
    # for byte, and only one converted tensor is held in memory at a time.
    for tensor in reader.tensors:
        data = tensor.data
        if tensor.tensor_type in UNREADABLE:
            data = _to_target(data, tensor.tensor_type)
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
    return True


def _to_target(data: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    """Requantize the raw bytes `data` of a `qtype` tensor as `TARGET`, a slice of rows at a time."""
    rows = data.reshape(-1, data.shape[-1])
    row_values = quant_shape_from_byte_shape(rows.shape[1:], qtype)[0]
    out = np.empty((rows.shape[0], *quant_shape_to_byte_shape((row_values,), TARGET)), dtype=np.uint8)
    step = max(1, CHUNK_VALUES // row_values)
    for start in range(0, rows.shape[0], step):
        out[start:start + step] = quantize(dequantize(rows[start:start + step], qtype), TARGET)
    return out.reshape(*data.shape[:-1], out.shape[-1])
