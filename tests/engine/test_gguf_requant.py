"""Rewriting GGUF tensors OpenVINO cannot read as Q8_0, on tiny GGUF files built here."""

from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter
from gguf.quants import dequantize, quantize

from minimax_cli.engine import gguf_requant
from minimax_cli.engine.gguf_requant import UNREADABLE, requantize

TOKENS = ["<s>", "hello", "wörld", ""]


def write_gguf(path: Path, tensors: dict[str, tuple[np.ndarray, Q]]) -> None:
    """A small llama-style GGUF with metadata of several types and `tensors` as name -> (data, type)."""
    writer = GGUFWriter(path, "llama")
    writer.add_name("tiny")
    writer.add_block_count(2)
    writer.add_uint64("tiny.big", 1 << 40)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_bool("tiny.flag", True)
    writer.add_token_list(TOKENS)
    writer.add_array("tiny.ints", [3, -1, 7])
    for name, (data, qtype) in tensors.items():
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def fields(reader: GGUFReader) -> dict:
    return {name: (field.types, field.contents()) for name, field in reader.fields.items()}


def weights(rows: int, cols: int, seed: int) -> np.ndarray:
    # Blocks of very different magnitudes, as in real weights, so the per-block scales matter.
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 2, (rows, 1))).astype(np.float32)


def test_unreadable_types_are_the_5_bit_legacy_quants():
    assert {Q.Q5_0, Q.Q5_1} <= UNREADABLE
    # What OpenVINO GenAI reads, checked on our models, must never be rewritten.
    assert not {Q.F32, Q.Q4_K, Q.Q6_K, Q.Q8_0} & UNREADABLE


def test_requantize_converts_5_bit_tensors_and_copies_the_rest(tmp_path, monkeypatch):
    # A small chunk size so the 40-row tensors are converted over several slices.
    monkeypatch.setattr(gguf_requant, "CHUNK_VALUES", 3 * 64)
    src, dest = tmp_path / "src.gguf", tmp_path / "dest.gguf"
    q5_0 = quantize(weights(40, 64, 0), Q.Q5_0)
    q5_1 = quantize(weights(40, 64, 1), Q.Q5_1)
    q8_0 = quantize(weights(8, 64, 2), Q.Q8_0)
    norm = np.linspace(-1, 1, 64, dtype=np.float32)
    write_gguf(src, {"blk.0.q5_0.weight": (q5_0, Q.Q5_0), "blk.0.q5_1.weight": (q5_1, Q.Q5_1),
                     "blk.0.q8_0.weight": (q8_0, Q.Q8_0), "blk.0.norm.weight": (norm, Q.F32)})

    assert requantize(src, dest) is True

    before, after = GGUFReader(src), GGUFReader(dest)
    assert fields(after) == fields(before)
    assert after.get_field("tokenizer.ggml.tokens").contents() == TOKENS
    assert [t.name for t in after.tensors] == [t.name for t in before.tensors]
    old = {t.name: t for t in before.tensors}
    for tensor in after.tensors:
        original = old[tensor.name]
        assert list(tensor.shape) == list(original.shape)
        if original.tensor_type not in UNREADABLE:
            assert tensor.tensor_type == original.tensor_type
            assert tensor.data.tobytes() == original.data.tobytes()
            continue
        assert tensor.tensor_type == Q.Q8_0
        want = dequantize(original.data, original.tensor_type)
        got = dequantize(tensor.data, tensor.tensor_type)
        assert got.shape == want.shape
        # Q8_0 stores each block of 32 as round(x / d) * d with d = max|x| / 127 kept as f16:
        # off by at most half a step, plus 127 steps times the f16 rounding of d (2**-11).
        blocks = np.abs(want).reshape(-1, 32).max(axis=1, keepdims=True)
        bound = blocks / 127 * (0.5 + 127 * 2.0**-11) + 1e-7
        assert np.all(np.abs(got - want).reshape(-1, 32) <= bound)
        assert not np.array_equal(got, want)  # it really was converted, not reinterpreted


def test_nothing_to_convert_returns_false_and_writes_nothing(tmp_path):
    src, dest = tmp_path / "src.gguf", tmp_path / "dest.gguf"
    write_gguf(src, {"blk.0.q8_0.weight": (quantize(weights(4, 64, 3), Q.Q8_0), Q.Q8_0),
                     "blk.0.norm.weight": (np.ones(64, dtype=np.float32), Q.F32)})

    assert requantize(src, dest) is False
    assert not dest.exists()


@pytest.mark.parametrize("qtype", sorted(UNREADABLE), ids=lambda qtype: qtype.name)
def test_every_unreadable_type_can_be_converted(tmp_path, qtype):
    # requantize relies on gguf-py dequantizing each type it lists; fail here, not on a user's model.
    src, dest = tmp_path / "src.gguf", tmp_path / "dest.gguf"
    values = weights(2, 256, 4)
    write_gguf(src, {"w": (quantize(values, qtype), qtype)})

    assert requantize(src, dest) is True
    (tensor,) = GGUFReader(dest).tensors
    assert tensor.tensor_type == Q.Q8_0
    assert np.allclose(dequantize(tensor.data, Q.Q8_0), values, atol=np.abs(values).max() * 0.1)
