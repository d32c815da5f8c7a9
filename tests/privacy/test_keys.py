"""Pseudonym keyring: file creation and modes, reloading, unsafe files, the environment."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ledger.errors import ConfigurationError
from ledger.privacy import KEYS_ENV, Keyring, KeyringError
from ledger.privacy.keys import KEY_FILE

SECRET = "ab" * 32


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_on_first_use_with_private_modes(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path)
    path = tmp_path / KEY_FILE
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert ring.key_ids == {"account": "account-1", "subject": "subject-1"}
    assert len(ring.key("subject").secret) == 32
    assert ring.key("subject").secret != ring.key("account").secret
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.json"]  # no temp files left


def test_reloading_gives_the_same_keys_and_adds_new_names(tmp_path: Path) -> None:
    first = Keyring.load_or_create(tmp_path)
    again = Keyring.load_or_create(tmp_path, ["subject", "partner-icbc"])
    assert again.key("subject") == first.key("subject")
    assert again.key("account") == first.key("account")
    assert again.key("partner-icbc").key_id == "partner-icbc-1"
    assert mode(tmp_path / KEY_FILE) == 0o600


@pytest.mark.parametrize("unsafe", [0o640, 0o604, 0o660])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, unsafe: int) -> None:
    Keyring.load_or_create(tmp_path)
    os.chmod(tmp_path / KEY_FILE, unsafe)
    with pytest.raises(KeyringError, match="accessible to group or others") as caught:
        Keyring.load_or_create(tmp_path)
    assert "chmod 600" in caught.value.diagnostics()
    assert isinstance(caught.value, ConfigurationError)


def test_a_missing_key_name_is_an_error(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path, ["subject"])
    with pytest.raises(KeyringError, match="no pseudonym key named 'account'"):
        ring.key("account")


def test_key_material_is_never_shown(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path)
    secret = ring.key("subject").secret
    shown = f"{ring!r} {ring.key('subject')!r} {ring.key_ids}"
    assert secret.hex() not in shown and repr(secret) not in shown


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        KEYS_ENV,
        json.dumps({"subject": {"id": "subject-7", "secret": SECRET},
                    "account": {"id": "account-3", "secret": SECRET[::-1]}}),
    )  # fmt: skip
    ring = Keyring.load_or_create(tmp_path)
    assert ring.key_ids == {"account": "account-3", "subject": "subject-7"}
    assert ring.key("subject").secret == bytes.fromhex(SECRET)
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(KeyringError, match="no pseudonym key named 'partner'"):
        Keyring.load_or_create(tmp_path, ["partner"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{" + SECRET, "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({"subject": {"id": "s-1", "secret": "zz"}}), "not hex"),
        (json.dumps({"subject": {"id": "s-1", "secret": "ab" * 16}}), "shorter than 32 bytes"),
        (json.dumps({"subject": {"secret": SECRET}}), "string id and secret"),
        (json.dumps({SECRET: {"id": "x", "secret": SECRET}}), "a key name is invalid"),
        (json.dumps({"subject": SECRET}), "must be an object"),
    ],
)
def test_bad_environment_keys_are_refused_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(KEYS_ENV, value)
    with pytest.raises(KeyringError, match=message) as caught:
        Keyring.load_or_create(tmp_path, ["subject"])
    assert SECRET not in caught.value.diagnostics()
    assert "ab" * 16 not in caught.value.diagnostics()


def test_a_corrupt_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.parent.mkdir(mode=0o700)
    path.write_text('{"format": "something else", "keys": {}}')
    os.chmod(path, 0o600)
    with pytest.raises(KeyringError, match="is not a credit-anchor/pseudonym-keys/v1 file"):
        Keyring.load_or_create(tmp_path)


def test_invalid_key_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="invalid key name"):
        Keyring.load_or_create(tmp_path, ["../escape"])
