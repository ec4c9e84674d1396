"""Which engine a preset opens: the CPU engine switch for the embedded models."""

import pytest

from minimax_cli.engine.factory import cpu_engine
from minimax_cli.errors import ErrorCode, MinimaxError


@pytest.mark.parametrize("value", ["openvino", "hf", " HF "])
def test_the_environment_chooses(monkeypatch, value):
    monkeypatch.setenv("MINIMAX_CPU_ENGINE", value)
    assert cpu_engine() == value.strip().lower()


def test_an_unknown_engine_is_a_bad_request(monkeypatch):
    monkeypatch.setenv("MINIMAX_CPU_ENGINE", "llamacpp")
    with pytest.raises(MinimaxError) as err:
        cpu_engine()
    assert err.value.code == ErrorCode.BAD_REQUEST and "MINIMAX_CPU_ENGINE" in err.value.message


def test_openvino_by_default_and_transformers_on_a_gpu(monkeypatch):
    import torch

    monkeypatch.delenv("MINIMAX_CPU_ENGINE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cpu_engine() == "openvino"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cpu_engine() == "hf"


def test_a_damaged_gguf_is_a_bad_checkpoint_not_a_crash(tmp_path, monkeypatch):
    """OpenVINO refuses it, and the transformers fallback is not tried on a file whose header
    does not even read."""
    from minimax_cli.engine.factory import open_engine

    monkeypatch.delenv("MINIMAX_CPU_ENGINE", raising=False)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUFjunk")
    with pytest.raises(MinimaxError) as err:
        open_engine(str(bad))
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "\n" not in str(err.value)
