"""The key ring and the stored envelope: round trip, wrong key, tampering, column binding, keys."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisis_triage.service import Settings
from crisis_triage.storage import (
    CiphertextIntegrityError,
    DecryptionError,
    EncryptionError,
    KeyRing,
    generate_key_line,
)
from crisis_triage.storage._keys import dev_key_path, keyring_from_environment, load_keyring

SECRET = "I have the pills counted out for tonight"


def ring(*ids: str) -> KeyRing:
    return KeyRing.parse(",".join(generate_key_line(key_id) for key_id in ids))


def test_round_trip_and_every_value_gets_its_own_nonce() -> None:
    keys = ring("a")
    first, second = keys.encrypt(SECRET, "messages.text"), keys.encrypt(SECRET, "messages.text")
    assert first != second
    assert first.startswith("ct1:a:")
    assert SECRET not in first
    assert keys.decrypt(first, "messages.text") == SECRET
    assert keys.decrypt(keys.encrypt("", "cases.note"), "cases.note") == ""
    assert keys.decrypt(keys.encrypt("café 😭", "cases.note"), "cases.note") == "café 😭"


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=3000), context=st.sampled_from(["messages.text", "cases.note"]))
def test_any_text_survives_the_round_trip(text: str, context: str) -> None:
    keys = KeyRing.parse(ROUND_TRIP_KEY)
    stored = keys.encrypt(text, context)
    assert stored.isascii() and keys.decrypt(stored, context) == text


ROUND_TRIP_KEY = generate_key_line("prop")


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old_line = generate_key_line("old")
    stored = KeyRing.parse(old_line).encrypt(SECRET, "messages.text")
    both = KeyRing.parse(generate_key_line("new") + "\n# retired soon\n" + old_line)
    assert both.active_id == "new"
    assert both.decrypt(stored, "messages.text") == SECRET
    assert both.encrypt(SECRET, "messages.text").startswith("ct1:new:")


def test_a_value_under_an_unknown_key_is_a_clear_error_without_the_data() -> None:
    stored = ring("gone").encrypt(SECRET, "messages.text")
    with pytest.raises(DecryptionError) as caught:
        ring("other").decrypt(stored, "messages.text")
    message = str(caught.value)
    assert "gone" in message and "messages.text" in message
    assert SECRET not in message and stored.split(":")[2][:16] not in message


def test_the_same_key_id_with_a_different_key_fails_authentication() -> None:
    stored = ring("a").encrypt(SECRET, "messages.text")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring("a").decrypt(stored, "messages.text")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_byte_is_detected(position: int) -> None:
    keys = ring("a")
    stored = keys.encrypt(SECRET, "messages.text")
    prefix, body = stored.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[position] ^= 0x01
    tampered = f"{prefix}:{base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionError) as caught:
        keys.decrypt(tampered, "messages.text")
    assert SECRET not in str(caught.value) and body[:16] not in str(caught.value)


@pytest.mark.parametrize("bad", ["ct1:a:", "ct1:a:!!!!", "ct1:a", "plain text", "ct1:a:AAAA"])
def test_malformed_envelopes_are_refused(bad: str) -> None:
    with pytest.raises(DecryptionError):
        ring("a").decrypt(bad, "messages.text")


def test_a_value_only_opens_in_the_column_it_was_written_for() -> None:
    keys = ring("a")
    note = keys.encrypt(SECRET, "cases.note")
    with pytest.raises(DecryptionError, match=r"messages\.text"):
        keys.decrypt(note, "messages.text")


def test_a_relabelled_key_id_does_not_open() -> None:
    # Two ids for the same key bytes: the key id is bound into the associated data.
    line = generate_key_line("a")
    same_key = KeyRing.parse(line + "," + "b:" + line.split(":", 1)[1])
    stored = same_key.encrypt(SECRET, "messages.text").replace("ct1:a:", "ct1:b:")
    with pytest.raises(DecryptionError):
        same_key.decrypt(stored, "messages.text")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty"),
        ("justakey", "id:base64key"),
        ("a:not base64!", "base64"),
        ("a:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("bad id:" + base64.b64encode(bytes(32)).decode(), "key id"),
        (generate_key_line("a") + "," + generate_key_line("a"), "twice"),
    ],
)
def test_malformed_key_specs_are_refused_clearly(spec: str, problem: str) -> None:
    with pytest.raises(EncryptionError, match=problem):
        KeyRing.parse(spec)


def test_the_key_ring_never_shows_its_keys() -> None:
    line = generate_key_line("a")
    assert line.split(":", 1)[1] not in repr(KeyRing.parse(line))


def test_a_dev_key_is_generated_once_with_owner_only_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    with caplog.at_level(logging.WARNING):
        first = load_keyring(url)
    path = dev_key_path(url)
    assert path is not None and path.parent == tmp_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "development key" in caplog.text
    stored = first.encrypt(SECRET, "messages.text")
    assert load_keyring(url).decrypt(stored, "messages.text") == SECRET


def test_keys_from_settings_win_over_the_key_file_and_the_dev_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    key_file = tmp_path / "keys"
    key_file.write_text(generate_key_line("filekey") + "\n")
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_keyring(url, key_file=key_file).active_id == "filekey"
    assert "readable by other users" in caplog.text
    assert load_keyring(url, keys=generate_key_line("envkey"), key_file=key_file).active_id == (
        "envkey"
    )
    assert dev_key_path(url) is not None and not dev_key_path(url).exists()  # type: ignore[union-attr]


def test_production_refuses_to_start_without_a_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    production = {"environment": "production", "secret_key": "s" * 32, "database_url": url}
    with pytest.raises(ValueError, match="CRISIS_TRIAGE_ENCRYPTION_KEYS"):
        Settings(**production)
    with pytest.raises(ValueError, match="key file"):
        Settings(**production, encryption_key_file=tmp_path / "missing")
    configured = Settings(**production, encryption_keys=generate_key_line("prod"))
    assert configured.keyring().active_id == "prod"
    monkeypatch.setenv("CRISIS_TRIAGE_ENVIRONMENT", "production")
    monkeypatch.delenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("CRISIS_TRIAGE_ENCRYPTION_KEY_FILE", raising=False)
    with pytest.raises(EncryptionError, match="no encryption key"):
        keyring_from_environment(url)
    assert dev_key_path(url) is not None and not dev_key_path(url).exists()  # type: ignore[union-attr]


def test_a_value_bound_to_a_row_opens_only_in_that_row() -> None:
    keys = ring("a")
    stored = keys.encrypt(SECRET, "messages.text", row=1)
    assert stored.startswith("ct2:a:")
    assert keys.decrypt(stored, "messages.text", row=1) == SECRET
    with pytest.raises(CiphertextIntegrityError, match=r"messages\.text row 2"):
        keys.decrypt(stored, "messages.text", row=2)
    with pytest.raises(DecryptionError, match="bound to a row"):
        keys.decrypt(stored, "messages.text")


def test_an_unbound_value_opens_in_a_row_only_when_asked_to() -> None:
    keys = ring("a")
    unbound = keys.encrypt(SECRET, "messages.text")
    with pytest.raises(CiphertextIntegrityError, match="not bound to its row"):
        keys.decrypt(unbound, "messages.text", row=1)
    assert keys.decrypt(unbound, "messages.text", row=1, accept_unbound=True) == SECRET


def test_mac_keys_are_per_key_and_not_the_encryption_key() -> None:
    keys = ring("a", "b")
    assert keys.mac(b"entry") == keys.mac(b"entry", "a") != keys.mac(b"entry", "b")
    assert keys.check_mac(b"entry", "b", keys.mac(b"entry", "b"))
    assert not keys.check_mac(b"entry!", "b", keys.mac(b"entry", "b"))
    with pytest.raises(DecryptionError, match="'c' is not in the key ring"):
        keys.mac(b"entry", "c")
