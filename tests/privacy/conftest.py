"""Fixtures: a fresh keyring in a temporary data dir, the default policy, a validated record."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.privacy import KEYS_ENV, Desensitiser, Keyring, Policy
from ledger.records import validate_record
from tests.records.sample import valid_row


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.load_or_create(tmp_path / "data")


@pytest.fixture
def policy() -> Policy:
    return Policy.load()


@pytest.fixture
def desensitiser(policy: Policy, keyring: Keyring) -> Desensitiser:
    return Desensitiser(policy, keyring)


@pytest.fixture
def record() -> dict[str, object]:
    return validate_record(valid_row())
