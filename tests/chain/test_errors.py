"""Every custom error in the compiled ABIs has its own typed exception."""

from __future__ import annotations

import os

import pytest
from eth_abi import encode
from eth_utils import keccak

from ledger.chain.artifacts import CONTRACT_NAMES, all_abis, load_artifact
from ledger.chain.errors import (
    ContractRevert,
    InvalidValidity,
    UnknownContractError,
    decode_revert,
    error_selectors,
)
from ledger.errors import InputError, LedgerError

ABI_ERRORS = sorted(
    {
        (e["name"], tuple(i["name"] for i in e["inputs"]))
        for abi in all_abis()
        for e in abi
        if e["type"] == "error"
    }
)


def test_the_abis_declare_errors() -> None:
    assert len(ABI_ERRORS) >= 15


@pytest.mark.parametrize(("name", "fields"), ABI_ERRORS, ids=[n for n, _ in ABI_ERRORS])
def test_every_abi_error_has_a_class_with_its_arguments(name: str, fields: tuple[str, ...]) -> None:
    cls = ContractRevert.by_name.get(name)
    assert cls is not None, f"no Python exception for Solidity error {name}"
    assert cls.fields == fields
    assert issubclass(cls, LedgerError)
    assert cls.__mro__[1] is ContractRevert  # its own class, not an alias


@pytest.mark.parametrize("contract", CONTRACT_NAMES)
def test_every_error_decodes_from_revert_bytes(contract: str) -> None:
    selectors = error_selectors([load_artifact(contract).abi])
    for entry in load_artifact(contract).abi:
        if entry["type"] != "error":
            continue
        types = [i["type"] for i in entry["inputs"]]
        values = [_sample(t) for t in types]
        selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
        exc = decode_revert("0x" + (selector + encode(types, values)).hex(), selectors)
        assert type(exc).solidity_name == entry["name"]
        assert list(exc.values.values()) == values


def _sample(abi_type: str) -> object:
    if abi_type == "bytes32":
        return os.urandom(32)
    if abi_type == "address":
        return "0x" + os.urandom(20).hex()
    return 7


def test_decoded_error_is_also_its_family() -> None:
    selectors = error_selectors(all_abis())
    data = keccak(text="InvalidValidity(uint64,uint64)")[:4] + encode(["uint64", "uint64"], [9, 3])
    exc = decode_revert("0x" + data.hex(), selectors)
    assert isinstance(exc, InvalidValidity)
    assert isinstance(exc, InputError)
    assert (exc.valid_from, exc.valid_until) == (9, 3)
    assert "InvalidValidity(validFrom=9, validUntil=3)" in str(exc)


def test_unknown_selector_is_reported_not_guessed() -> None:
    exc = decode_revert("0xdeadbeef", error_selectors(all_abis()))
    assert isinstance(exc, UnknownContractError)
    assert "0xdeadbeef" in str(exc)
