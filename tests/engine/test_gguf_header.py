"""The GGUF header reader against gguf's own writer and reader."""

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.quants import quantize

from minimax_cli.engine import gguf_header
from minimax_cli.engine.openvino import gguf_context
from minimax_cli.errors import ErrorCode, MinimaxError


def write(path, *, context: int | None = 4096):
    writer = GGUFWriter(path, "qwen2")
    writer.add_token_list(["a", "bb", "ccc"])  # arrays of strings and numbers around the values
    if context is not None:
        writer.add_context_length(context)
    writer.add_array("x.scores", [0.5, 1.5])
    writer.add_string("general.name", "tiny")
    writer.add_tensor("f32", np.arange(64, dtype=np.float32).reshape(2, 32))
    q8 = quantize(np.ones((2, 32), dtype=np.float32), GGMLQuantizationType.Q8_0)
    writer.add_tensor("q8", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_values_and_tensor_types_agree_with_ggufs_reader(tmp_path):
    path = write(tmp_path / "m.gguf")
    values = gguf_header.metadata(path, lambda key: True)
    assert values["general.name"] == "tiny" and values["qwen2.context_length"] == 4096
    assert "tokenizer.ggml.tokens" not in values  # arrays are skipped
    reader = GGUFReader(path)
    assert gguf_header.tensor_types(path) == {t.name: int(t.tensor_type) for t in reader.tensors}
    assert gguf_context(path) == 4096


def test_no_context_length_and_damaged_headers_are_bad_checkpoints(tmp_path):
    with pytest.raises(MinimaxError) as err:
        gguf_context(write(tmp_path / "none.gguf", context=None))
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "context" in err.value.message
    whole = write(tmp_path / "m.gguf").read_bytes()
    for data in (b"GGUF" + b"a" * 5000, whole[:200], b"PK\x03\x04" + whole[4:]):
        (tmp_path / "bad.gguf").write_bytes(data)
        with pytest.raises(MinimaxError) as err:
            gguf_header.tensor_types(tmp_path / "bad.gguf")
        assert err.value.code == ErrorCode.BAD_CHECKPOINT
