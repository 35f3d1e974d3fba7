"""Build the static encoder's word table from the full encoder (model2vec-style distillation).

1. Vocabulary: words seen at least ``min_count`` times in the training CSV (rows of
   non-commercial licence left out: the table ships), every word of the example CSVs under
   ``training/examples/`` when present, and the bundled common-Spanish-word list.
2. Each word alone through the full encoder (``query:`` prefix, as messages are encoded).
3. PCA (centred) to ``dim`` dimensions: drops the direction every E5 vector shares.
4. SIF weights a / (a + p(word)) from the counts; int8 rows with float16 per-row scales.

The result is an ``.npz`` written with fixed zip timestamps (same inputs, same bytes) and a
JSON card beside it: source package, version and weights SHA-256, vocabulary size and source,
build date, dimensions, and the table's own SHA-256, which the encoder checks on load.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from crisis_triage.detector._encoders import SentenceEncoder
from crisis_triage.detector._full_encoder import (
    ENGINE_SHA256,
    PACKAGE,
    PACKAGE_VERSION,
    WEIGHTS_SHA256,
    FullEncoder,
    file_sha256,
)
from crisis_triage.detector._static_encoder import TOKENISER, card_path_for, words

SPANISH_WORDS_PATH = Path(__file__).resolve().parent / "bundled" / "spanish_common_words.txt"
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "training" / "examples"
# Rows under a non-commercial licence (e.g. CC BY-NC-SA) stay out of what the project ships.
_NONCOMMERCIAL = r"(?i)\bNC\b|non-?commercial"
SIF_A = 1e-3
DEFAULT_DIM = 256
# The Spanish list has no corpus counts: its words are ranked (function words first) and
# given Zipf-law counts, p(rank) = ZIPF_TOP / rank of the training corpus's word total.
ZIPF_TOP = 0.05
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def count_csv_words(path: Path, *, text_column: str = "text") -> tuple[Counter[str], int]:
    """Word counts of a CSV's text column (pandas; gzip by extension), and rows left out
    for a non-commercial ``license``."""
    import pandas as pd

    counts: Counter[str] = Counter()
    left_out = 0
    for chunk in pd.read_csv(path, chunksize=10_000, dtype=str, keep_default_na=False):
        if text_column not in chunk.columns:
            raise ValueError(f"{path.name} has no column {text_column!r}")
        if "license" in chunk.columns:
            noncommercial = chunk["license"].str.contains(_NONCOMMERCIAL, regex=True)
            left_out += int(noncommercial.sum())
            chunk = chunk[~noncommercial]
        for text in chunk[text_column]:
            counts.update(words(text))
    return counts, left_out


def spanish_words() -> list[str]:
    """The bundled common-Spanish-word list, roughly most common first."""
    lines = SPANISH_WORDS_PATH.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def collect_vocabulary(
    train_csv: Path, *, min_count: int = 3, examples_dir: Path = EXAMPLES_DIR
) -> tuple[Counter[str], dict[str, Any]]:
    """Words and counts for the table, and a description of where they came from."""
    train, left_out = count_csv_words(train_csv)
    total = sum(train.values())
    counts = Counter({word: n for word, n in train.items() if n >= min_count})
    source: dict[str, Any] = {
        "train": {"file": train_csv.name, "min_count": min_count, "words": len(counts)},
        "noncommercial_rows_left_out": left_out,
    }
    example_files = sorted(examples_dir.rglob("*.csv")) if examples_dir.is_dir() else []
    for path in example_files:
        for word, n in count_csv_words(path)[0].items():
            counts[word] += n
    source["examples"] = [str(path.relative_to(examples_dir)) for path in example_files]
    added = 0
    for rank, word in enumerate(spanish_words(), start=1):
        if word not in counts:
            added += 1
        counts[word] = max(counts[word], round(total * ZIPF_TOP / rank))
    source["spanish_list"] = {"file": SPANISH_WORDS_PATH.name, "new_words": added}
    return counts, source


def _quantise(rows: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[Any]]:
    scales = np.abs(rows).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float16)
    quantised = np.rint(rows / scales.astype(np.float32)[:, None]).clip(-127, 127)
    return quantised.astype(np.int8), scales


def _write_npz(path: Path, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """np.savez_compressed, but with fixed timestamps so the file's hash is reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def build_static_table(
    vocabulary: Iterable[str],
    counts: Mapping[str, int],
    out_path: Path,
    *,
    encoder: SentenceEncoder | None = None,
    dim: int = DEFAULT_DIM,
    vocabulary_source: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 1024,
) -> dict[str, Any]:
    """Embed each word alone, reduce, weight and quantise; write the table and its card."""
    from sklearn.decomposition import PCA

    vocab = sorted(set(vocabulary), key=lambda word: (-counts.get(word, 0), word))
    if any(not word or "\n" in word for word in vocab):
        raise ValueError("vocabulary words must be non-empty and single-line")
    if len(vocab) <= dim:
        raise ValueError(f"need more than {dim} words for {dim} dimensions, got {len(vocab)}")
    source_encoder = encoder if encoder is not None else FullEncoder()
    parts = []
    for start in range(0, len(vocab), chunk):
        parts.append(source_encoder.encode(vocab[start : start + chunk]))
        if progress is not None:
            progress(min(start + chunk, len(vocab)), len(vocab))
    full = np.concatenate(parts).astype(np.float32)
    pca = PCA(n_components=dim, svd_solver="full").fit(full)
    reduced = pca.transform(full).astype(np.float32)
    total = float(sum(counts.get(word, 0) for word in vocab)) or 1.0
    frequency = np.array([counts.get(word, 0) for word in vocab], dtype=np.float64) / total
    weights = (SIF_A / (SIF_A + frequency)).astype(np.float16)
    quantised, scales = _quantise(reduced)
    _write_npz(
        out_path,
        {
            "words": np.frombuffer("\n".join(vocab).encode("utf-8"), dtype=np.uint8),
            "vectors": quantised,
            "scales": scales,
            "weights": weights,
            "mean": pca.mean_.astype(np.float32),
            "components": pca.components_.astype(np.float32),
        },
    )
    card = {
        "name": "static-e5-v1",
        "tokeniser": TOKENISER,
        "source_encoder": source_encoder.name,
        "source_package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "source_weights_sha256": WEIGHTS_SHA256,
        "source_engine_sha256": ENGINE_SHA256,
        "source_model": "intfloat/multilingual-e5-small (MIT), 4-bit, 'query: ' prefix",
        "vocabulary_size": len(vocab),
        "vocabulary_source": dict(vocabulary_source or {}),
        "dim": dim,
        "source_dim": int(full.shape[1]),
        "pca_explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
        "sif_a": SIF_A,
        "storage": "int8 rows, float16 per-row scales, float16 SIF weights",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "table_bytes": out_path.stat().st_size,
        "table_sha256": file_sha256(out_path),
    }
    card_path_for(out_path).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
