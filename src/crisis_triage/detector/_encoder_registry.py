"""The process-wide encoders by name: loaded on first use, replaceable by a site or a test.

Kept apart from ``_encoders`` (the interface the encoders implement) so that the encoders
import the interface and this registry imports the encoders, never the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from crisis_triage.detector._encoders import (
    FULL_ENCODER,
    STATIC_ENCODER,
    EncoderUnavailable,
    SentenceEncoder,
)
from crisis_triage.detector._full_encoder import FullEncoder, full_encoder_status
from crisis_triage.detector._static_encoder import StaticEncoder, static_encoder_status


def _make_full() -> SentenceEncoder:
    return FullEncoder()


def _make_static() -> SentenceEncoder:
    return StaticEncoder()


_FACTORIES: dict[str, Callable[[], SentenceEncoder]] = {
    FULL_ENCODER: _make_full,
    STATIC_ENCODER: _make_static,
}
_LOADED: dict[str, SentenceEncoder] = {}
_LOCK = threading.Lock()


def encoder_names() -> tuple[str, ...]:
    """The names :func:`get_encoder` knows."""
    return tuple(_FACTORIES)


def get_encoder(name: str) -> SentenceEncoder:
    """Return the process-wide encoder called ``name``, loading it on first use.

    Raises :class:`EncoderUnavailable` (with the reason) when it cannot be loaded: unknown
    name, package not installed, weights or table missing or not the recorded file. A failed
    load is not cached, so a later call retries.
    """
    if name not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise EncoderUnavailable(f"unknown encoder {name!r}; known encoders: {known}")
    with _LOCK:
        encoder = _LOADED.get(name)
        if encoder is None:
            encoder = _FACTORIES[name]()
            _LOADED[name] = encoder
        return encoder


def register_encoder(name: str, factory: Callable[[], SentenceEncoder]) -> None:
    """Make ``factory``'s encoder available as ``name`` (a site's own encoder, or a test's)."""
    with _LOCK:
        _FACTORIES[name] = factory
        _LOADED.pop(name, None)


def unregister_encoder(name: str) -> None:
    """Forget an encoder registered with :func:`register_encoder`."""
    with _LOCK:
        _FACTORIES.pop(name, None)
        _LOADED.pop(name, None)


def clear_encoder_cache() -> None:
    """Forget loaded encoders (tests, and after replacing a table file)."""
    with _LOCK:
        _LOADED.clear()


def encoder_status() -> dict[str, Any]:
    """Each encoder: available or not and why, with file hashes and versions (for /healthz).

    Checks files without loading the model, so it is cheap enough for a health endpoint.
    """
    return {
        FULL_ENCODER: full_encoder_status() | {"loaded": FULL_ENCODER in _LOADED},
        STATIC_ENCODER: static_encoder_status() | {"loaded": STATIC_ENCODER in _LOADED},
    }
