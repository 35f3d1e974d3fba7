"""Saving and loading models with skops.io (never pickle), with a card and a checksum.

``save_model(model, "m.skops")`` writes two files:

- ``m.skops``: the skops file, canonicalised so that the same model gives the same bytes
  (skops writes memory addresses as object ids and the current time into the zip);
- ``m.card.json``: the model card plus the file's name and SHA-256.

``load_model`` refuses a file whose SHA-256 differs from its card, or that contains any type
outside an explicit allow-list, before constructing anything.  The loaded model's in-memory
card gets ``model_id`` (``stem@sha256[:12]`` of the file): every score records it, so a score
can always be traced to the file that made it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

from crisis_triage.detector._adapted import SiteAdaptedDetector
from crisis_triage.detector._detector import TwoStageDetector
from crisis_triage.detector._stacked import StackedDetector

BUNDLED_DIR = Path(__file__).with_name("bundled")
BUNDLED_MODEL_PATH = BUNDLED_DIR / "default.skops"

# Types a detector file may contain beyond what skops trusts by default (scikit-learn
# estimators, numpy, scipy and builtins).  Anything else makes loading fail.
ALLOWED_TYPES = frozenset(
    {
        "crisis_triage.detector._detector.TwoStageDetector",
        "crisis_triage.detector._adapted.SiteAdaptedDetector",
        "crisis_triage.detector._stacked.StackedDetector",
        "crisis_triage.text._normalise.normalise",
        "crisis_triage.text._normalise.tokenise",
    }
)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NPY = re.compile(r"^(\d+)\.npy$")


class ModelLoadError(RuntimeError):
    """A model file is missing, corrupt, altered or contains types we do not trust."""


def card_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name.removesuffix(".skops") + ".card.json")


Detector = TwoStageDetector | SiteAdaptedDetector | StackedDetector


def save_model(model: Detector, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (skops) and its card with checksum next to it."""
    if not hasattr(model, "threshold_"):
        raise ValueError("only a fitted detector can be saved")
    path = Path(path)
    for vectorizer in _vectorizers(model):
        # scikit-learn caches id(stop_words), a memory address, to skip a check; it is
        # recomputed on use, and keeping it would make every save differ.
        vectorizer.__dict__.pop("_stop_words_id", None)
    data = canonical_skops(sio.dumps(model, compression=zipfile.ZIP_DEFLATED))
    # model_id names the file a model was loaded from; the new file gets its own on load.
    card = {k: v for k, v in model.card_.items() if k != "model_id"}
    card |= {"file": path.name, "file_sha256": _sha256(data)}
    _write_atomic(path, data)
    _write_atomic(card_path(path), (json.dumps(card, indent=2, sort_keys=True) + "\n").encode())
    return path


def _vectorizers(model: Any) -> list[Any]:
    found = [
        v
        for name in ("vectorizer_", "char_vectorizer_", "site_vectorizer_")
        if (v := getattr(model, name, None)) is not None
    ] + [v for v in getattr(model, "vectorizers_", ()) if v is not None]
    base = getattr(model, "base_", None)
    return found + (_vectorizers(base) if base is not None else [])


def load_model(path: str | Path | None = None) -> Detector:
    """Load a detector (None: the bundled default model), verifying checksum and types."""
    path = Path(path) if path is not None else BUNDLED_MODEL_PATH
    if not path.is_file():
        hint = "; build it with `crisis-triage train-default`" if path == BUNDLED_MODEL_PATH else ""
        raise ModelLoadError(f"model file {path} does not exist{hint}")
    data = path.read_bytes()
    expected = _expected_sha256(path)
    actual = _sha256(data)
    if actual != expected:
        raise ModelLoadError(
            f"model file {path.name} does not match its card (sha256 {actual[:12]}..., card "
            f"says {expected[:12]}...): the file was altered or the card belongs to another file"
        )
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises many types for malformed files
        raise ModelLoadError(
            f"{path.name} is not a readable skops model file ({_kind(exc)})"
        ) from None
    refused = sorted(untrusted - ALLOWED_TYPES)
    if refused:
        raise ModelLoadError(
            f"{path.name} contains types that are not on the allow-list, refusing to load: "
            + ", ".join(refused)
        )
    try:
        model = sio.loads(data, trusted=sorted(untrusted))
    except Exception as exc:
        raise ModelLoadError(f"{path.name} could not be loaded ({_kind(exc)})") from None
    if not isinstance(
        model, TwoStageDetector | SiteAdaptedDetector | StackedDetector
    ) or not hasattr(model, "threshold_"):
        raise ModelLoadError(
            f"{path.name} does not hold a fitted detector (TwoStageDetector, "
            "SiteAdaptedDetector or StackedDetector)"
        )
    model.card_ = dict(getattr(model, "card_", None) or {}) | {"model_id": model_id(path, actual)}
    return model


def model_id(path: Path, file_sha256: str) -> str:
    """A stable id for a model file: its name without ``.skops`` and the start of its hash
    (at most 64 characters, the width of ``messages.model_version``)."""
    return f"{path.name.removesuffix('.skops')[:51]}@{file_sha256[:12]}"


def read_card(path: str | Path | None = None) -> dict[str, Any]:
    """The card JSON next to a model file (None: the bundled model's)."""
    target = card_path(Path(path) if path is not None else BUNDLED_MODEL_PATH)
    try:
        card = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"the model card {target.name} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"the model card {target.name} is unreadable ({_kind(exc)})") from None
    if not isinstance(card, dict):
        raise ModelLoadError(f"the model card {target.name} is not a JSON object")
    return card


def _expected_sha256(path: Path) -> str:
    card = read_card(path)
    expected = card.get("file_sha256")
    if not isinstance(expected, str) or len(expected) != 64:
        raise ModelLoadError(f"the model card {card_path(path).name} has no valid file_sha256")
    return expected


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with deterministic object ids, entry order and timestamps."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        schema = _renumber(schema, ids)
        entries = {"schema.json": json.dumps(schema, indent=2).encode()}
        for name in source.namelist():
            if name == "schema.json":
                continue
            match = _NPY.match(name)
            new_name = f"{ids.setdefault(int(match.group(1)), len(ids) + 1)}.npy" if match else name
            entries[new_name] = source.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            target.writestr(info, entries[name])
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int]) -> Any:
    if isinstance(node, list):
        return [_renumber(item, ids) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int):
            value = ids.setdefault(value, len(ids) + 1)
        elif key == "file" and isinstance(value, str) and (match := _NPY.match(value)):
            value = f"{ids.setdefault(int(match.group(1)), len(ids) + 1)}.npy"
        else:
            value = _renumber(value, ids)
        out[key] = value
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
