"""An on-disk cache of training-time embeddings, so repeated training runs embed each text once.

It holds embeddings of *training data* (labelled CSVs a developer or site trains on), never of
messages the service receives: the service encodes in memory and stores nothing here. Entries
are keyed by (encoder name, SHA-256 of the text); the text itself is not stored, though an
embedding still says something about its text, so keep the directory as private as the data.

Layout: ``<directory>/<encoder name>/<shard>.keys.npy`` (``(n, 32)`` uint8 digests) beside
``<shard>.vectors.npy`` (``(n, dim)`` float32). Each ``encode`` call that embeds anything
writes one new shard, vectors first and keys last, each through a temporary file and an
atomic rename, so a reader sees whole shards only and concurrent writers never clash.
Past ``MAX_SHARDS`` shards they are merged into one (callers that embed in small batches).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from crisis_triage.detector._encoders import SentenceEncoder, check_texts

_DIGEST_BYTES = 32
MAX_SHARDS = 32
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_cache_directory() -> Path:
    """``<user cache dir>/crisis-triage/embeddings`` (e.g. ``~/.cache/...`` on Linux)."""
    return Path(platformdirs.user_cache_dir("crisis-triage")) / "embeddings"


def text_digest(text: str) -> bytes:
    """The cache key of one text (SHA-256 of its UTF-8 bytes, lone surrogates replaced)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """``encode(encoder, texts)``: cached rows where present, the encoder for the rest."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_directory()
        self.last_embedded = 0  # texts the last encode() call had to embed

    def _folder(self, encoder: SentenceEncoder) -> Path:
        if not _SAFE_NAME.match(encoder.name):
            raise ValueError(f"encoder name {encoder.name!r} is not usable as a folder name")
        return self.directory / encoder.name

    def _load(self, folder: Path, dim: int) -> dict[bytes, npt.NDArray[np.float32]]:
        found: dict[bytes, npt.NDArray[np.float32]] = {}
        for keys_path in sorted(folder.glob("*.keys.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vectors."))
            try:
                keys = np.load(keys_path, allow_pickle=False)
                vectors = np.load(vectors_path, allow_pickle=False, mmap_mode="r")
            except (OSError, ValueError):
                continue  # a damaged shard is skipped; its texts are embedded again
            if (
                keys.ndim != 2
                or keys.shape[1] != _DIGEST_BYTES
                or vectors.shape
                != (
                    len(keys),
                    dim,
                )
            ):
                continue
            for row, key in enumerate(keys):
                found[key.tobytes()] = vectors[row]
        return found

    def encode(self, encoder: SentenceEncoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` (float32 ``(n, dim)``), embedding only the uncached ones."""
        items = check_texts(texts)
        folder = self._folder(encoder)
        digests = [text_digest(text) for text in items]
        cached = self._load(folder, encoder.dim) if folder.is_dir() else {}
        missing: dict[bytes, str] = {}
        for digest, text in zip(digests, items, strict=True):
            if digest not in cached:
                missing.setdefault(digest, text)
        self.last_embedded = len(missing)
        if missing:
            vectors = np.asarray(encoder.encode(list(missing.values())), dtype=np.float32)
            self._write(folder, list(missing), vectors)
            cached.update(zip(missing, vectors, strict=True))
            if len(list(folder.glob("*.keys.npy"))) > MAX_SHARDS:
                self._compact(folder, cached)
        out = np.empty((len(items), encoder.dim), dtype=np.float32)
        for row, digest in enumerate(digests):
            out[row] = cached[digest]
        return out

    def _write(self, folder: Path, digests: list[bytes], vectors: npt.NDArray[np.float32]) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, _DIGEST_BYTES)
        shard = hashlib.sha256(keys.tobytes()).hexdigest()[:24]
        _save_atomic(folder / f"{shard}.vectors.npy", vectors)
        _save_atomic(folder / f"{shard}.keys.npy", keys)
        return shard

    def _compact(self, folder: Path, entries: dict[bytes, npt.NDArray[np.float32]]) -> None:
        """Replace every shard by one holding ``entries`` (all that the shards held)."""
        old = list(folder.glob("*.npy"))
        vectors = np.asarray(list(entries.values()), dtype=np.float32)
        merged = self._write(folder, list(entries), vectors)
        for path in old:
            if not path.name.startswith(merged):
                path.unlink(missing_ok=True)

    def clear(self, encoder: SentenceEncoder | None = None) -> None:
        """Delete the cached shards of one encoder, or of all."""
        folders = [self._folder(encoder)] if encoder else list(self.directory.glob("*"))
        for folder in folders:
            for path in folder.glob("*.npy"):
                path.unlink(missing_ok=True)


def _save_atomic(path: Path, array: npt.NDArray[np.generic]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
