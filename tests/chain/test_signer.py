"""The chain account key: created 0600, never loose, env overrides, bad keys refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.chain.signer import ENV_KEY, KEY_FILE, address_of, load_account, load_key
from ledger.errors import ConfigurationError


def test_key_created_once_with_mode_0600(data_dir: Path, clean_env: None) -> None:
    first = load_account(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_account(data_dir).address == first.address


def test_loose_key_file_is_refused(data_dir: Path, clean_env: None) -> None:
    load_account(data_dir)
    (data_dir / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        load_account(data_dir)


def test_missing_key_without_create(data_dir: Path, clean_env: None) -> None:
    with pytest.raises(ConfigurationError, match="no chain key"):
        load_account(data_dir, create=False)


def test_environment_key_wins(
    data_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "0x" + "11" * 32
    monkeypatch.setenv(ENV_KEY, key)
    account = load_account(data_dir)
    assert account.key.hex().removeprefix("0x") == "11" * 32
    assert not (data_dir / KEY_FILE).exists()


@pytest.mark.parametrize("bad", ["zz", "0x1234", "0x" + "00" * 32, "0x" + "ff" * 32])
def test_bad_keys_are_refused_without_echoing_them(
    data_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv(ENV_KEY, bad)
    with pytest.raises(ConfigurationError) as info:
        load_account(data_dir)
    assert bad.removeprefix("0x") not in str(info.value)


_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.mark.parametrize(
    "key",
    [
        (1).to_bytes(32, "big"),
        (_ORDER - 1).to_bytes(32, "big"),
        bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"),
        *(bytes([i]) * 32 for i in (0x11, 0x7F, 0xA5)),
    ],
)
def test_the_address_without_eth_account_is_eth_accounts(key: bytes) -> None:
    from eth_account import Account

    assert address_of(key) == Account.from_key(key).address.lower()


@pytest.mark.parametrize("edge", [_ORDER, _ORDER + 1])
def test_keys_at_or_past_the_group_order_are_refused(
    data_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, edge: int
) -> None:
    monkeypatch.setenv(ENV_KEY, "0x" + edge.to_bytes(32, "big").hex())
    with pytest.raises(ConfigurationError, match="not a valid secp256k1 key"):
        load_key(data_dir)


def test_the_key_and_the_account_come_from_the_same_place(data_dir: Path, clean_env: None) -> None:
    key = load_key(data_dir)  # made on first use
    assert address_of(key) == load_account(data_dir, create=False).address.lower()


def test_signing_and_sender_recovery_use_libsecp256k1() -> None:
    """eth-keys falls back to pure-Python curve arithmetic without coincurve: a third
    of the chain helper's CPU in a large submission. The dependency must stay in effect."""
    from eth_account import Account
    from eth_keys.backends import CoinCurveECCBackend, get_backend

    assert isinstance(get_backend(), CoinCurveECCBackend)
    key = "0x" + "22" * 32
    tx = {"to": "0x" + "33" * 20, "value": 0, "gas": 21000, "maxFeePerGas": 10**9,
          "maxPriorityFeePerGas": 0, "nonce": 0, "chainId": 1337, "type": 2}  # fmt: skip
    raw = Account.sign_transaction(tx, key).raw_transaction
    assert Account.recover_transaction(raw) == Account.from_key(key).address
