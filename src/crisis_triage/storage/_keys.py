"""Where the encryption keys come from: settings, a key file, or (development only) a dev key.

``CRISIS_TRIAGE_ENCRYPTION_KEYS`` (``id:base64key,...``, first one active) wins over
``CRISIS_TRIAGE_ENCRYPTION_KEY_FILE`` (one key per line, first one active).  With neither, a
development setup gets a key file generated next to its SQLite database (mode 0600) and a
warning in the log; ``environment=production`` refuses.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import platformdirs
from sqlalchemy import make_url

from crisis_triage.storage._crypto import EncryptionError, KeyRing, generate_key_line

log = logging.getLogger(__name__)

KEYS_ENV = "CRISIS_TRIAGE_ENCRYPTION_KEYS"
KEY_FILE_ENV = "CRISIS_TRIAGE_ENCRYPTION_KEY_FILE"
ENVIRONMENT_ENV = "CRISIS_TRIAGE_ENVIRONMENT"
ENVIRONMENT_SHORT_ENV = "CRISIS_TRIAGE_ENV"  # the same setting (pydantic settings accept both)
DEV_KEY_SUFFIX = ".dev-keys"


def load_keyring(
    database_url: str,
    *,
    keys: str | None = None,
    key_file: Path | None = None,
    allow_dev_key: bool = True,
) -> KeyRing:
    """The key ring for ``database_url`` from ``keys``, else ``key_file``, else a dev key."""
    if keys and keys.strip():
        return KeyRing.parse(keys)
    if key_file is not None:
        _warn_if_readable_by_others(key_file)
        return KeyRing.from_file(key_file)
    if not allow_dev_key:
        raise EncryptionError(
            f"no encryption key: set {KEYS_ENV} or {KEY_FILE_ENV} "
            "(`crisis-triage keys generate` prints a new key)"
        )
    return dev_keyring(database_url)


def _warn_if_readable_by_others(path: Path) -> None:
    with contextlib.suppress(OSError):  # a missing file is reported when it is read
        if path.stat().st_mode & 0o077:
            log.warning("key file %s is readable by other users: chmod 600 it", path)


def keyring_from_environment(database_url: str) -> KeyRing:
    """``load_keyring`` with the ``CRISIS_TRIAGE_*`` variables (for engines made without one)."""
    key_file = os.environ.get(KEY_FILE_ENV)
    given = os.environ.get(ENVIRONMENT_ENV) or os.environ.get(ENVIRONMENT_SHORT_ENV)
    environment = (given or "development").strip().lower()
    return load_keyring(
        database_url,
        keys=os.environ.get(KEYS_ENV),
        key_file=Path(key_file) if key_file else None,
        allow_dev_key=environment == "development",
    )


def dev_key_path(database_url: str) -> Path | None:
    """Next to a SQLite file; in the user data dir for a server; None for in-memory SQLite."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        path = Path(database).expanduser()
        return path.with_name(path.name + DEV_KEY_SUFFIX)
    data_dir = Path(platformdirs.user_data_dir("crisis-triage", appauthor=False))
    return data_dir / f"server-database{DEV_KEY_SUFFIX}"


def dev_keyring(database_url: str) -> KeyRing:
    """The development key ring for ``database_url``, created (0600) on first use."""
    path = dev_key_path(database_url)
    if path is None:  # an in-memory database dies with the process, and so may its key
        return KeyRing.parse(generate_key_line("dev-memory"))
    if not path.exists():
        _create_key_file(path, generate_key_line("dev") + "\n")
        log.warning(
            "no encryption key configured: generated a development key at %s; "
            "set %s or %s before storing real messages",
            path,
            KEYS_ENV,
            KEY_FILE_ENV,
        )
    return KeyRing.from_file(path)


def _create_key_file(path: Path, content: str) -> None:
    """Write ``content`` to a new file readable by its owner only, atomically: another
    process starting at the same moment finds either no file or the whole key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):  # someone else won the race: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
