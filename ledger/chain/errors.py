"""Chain errors, and one Python exception per Solidity custom error.

web3.py hands a contract revert back as raw bytes (``0x`` + 4-byte selector +
ABI-encoded arguments). :func:`decode_revert` turns those bytes into the
matching exception class below, with the error's arguments as attributes, so
callers write ``except BatchAlreadyAnchored as e: e.batch_id`` instead of
comparing hex strings. A test checks that every ``error`` in the compiled ABIs
has a class here with the same argument names.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ledger.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    LedgerError,
    NotFoundError,
    UnavailableError,
)


class ChainError(LedgerError):
    """Root of errors raised by the chain layer."""

    code = "chain-error"


class ChainUnavailableError(ChainError, UnavailableError):
    """The node cannot be reached or did not answer in time."""

    code = "chain-unavailable"


class ChainLockedError(ChainError, UnavailableError):
    """Another process holds the embedded chain."""

    code = "chain-locked"


class TransactionTimeoutError(ChainUnavailableError):
    """A sent transaction was not mined (or not confirmed) within the timeout."""

    code = "transaction-timeout"

    def __init__(self, tx_hash: str, timeout: float) -> None:
        super().__init__(
            f"transaction {tx_hash} not confirmed after {timeout:g}s",
            hint="It may still be mined: check it on the node before sending it again.",
        )
        self.tx_hash = tx_hash


class InsufficientFundsError(ChainError, ConfigurationError):
    """The signing account cannot pay for gas."""

    code = "insufficient-funds"


class NotADevNodeError(ChainError, ConfigurationError):
    """Funding from the node was asked of a node that is not a local development node."""

    code = "not-a-dev-node"


class DeploymentError(ChainError, ConfigurationError):
    """No usable deployment: missing, incomplete or not matching the chain."""

    code = "deployment"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ContractRevert(ChainError):
    """A contract call reverted with a custom error.

    Subclasses name the Solidity error (``solidity_name``) and its argument
    names in order (``fields``); each argument becomes a snake_case attribute.
    """

    code = "contract-revert"
    solidity_name: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()
    by_name: ClassVar[dict[str, type[ContractRevert]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.solidity_name:
            ContractRevert.by_name[cls.solidity_name] = cls
            cls.code = _snake(cls.solidity_name).replace("_", "-")

    def __init__(self, *args: Any) -> None:
        self.values = dict(zip(self.fields, args, strict=True))
        for field, value in self.values.items():
            setattr(self, _snake(field), value)
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        super().__init__(f"contract rejected the call: {self.solidity_name}({shown})")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class UnknownContractError(ContractRevert):
    """A revert whose selector matches no known error (a foreign contract or a panic)."""

    code = "contract-revert-unknown"

    def __init__(self, data: str) -> None:
        ChainError.__init__(self, f"contract reverted with unrecognised data {data[:74]}")
        self.values = {"data": data}


# --- OpenZeppelin errors the registries inherit ---------------------------------------


class AccessControlUnauthorizedAccount(ContractRevert, ConfigurationError):
    """The signing account lacks the role the function needs."""

    solidity_name = "AccessControlUnauthorizedAccount"
    fields = ("account", "neededRole")


class AccessControlBadConfirmation(ContractRevert, InputError):
    """``renounceRole`` was called for another account."""

    solidity_name = "AccessControlBadConfirmation"


class EnforcedPause(ContractRevert, UnavailableError):
    """Anchoring is paused by a pauser."""

    solidity_name = "EnforcedPause"


class ExpectedPause(ContractRevert, ConflictError):
    """``unpause`` was called while not paused."""

    solidity_name = "ExpectedPause"


# --- AnchorRegistry ---------------------------------------------------------------------


class ZeroAdmin(ContractRevert, InputError):
    """A registry cannot be deployed without an admin."""

    solidity_name = "ZeroAdmin"


class ZeroBatchId(ContractRevert, InputError):
    solidity_name = "ZeroBatchId"


class ZeroRoot(ContractRevert, InputError):
    solidity_name = "ZeroRoot"


class ZeroTreeSize(ContractRevert, InputError):
    solidity_name = "ZeroTreeSize"


class InvalidKind(ContractRevert, InputError):
    solidity_name = "InvalidKind"
    fields = ("kind",)


class BatchAlreadyAnchored(ContractRevert, ConflictError):
    solidity_name = "BatchAlreadyAnchored"
    fields = ("batchId",)


class RootAlreadyAnchored(ContractRevert, ConflictError):
    solidity_name = "RootAlreadyAnchored"
    fields = ("root",)


# --- ConsentRegistry --------------------------------------------------------------------


class ZeroConsentId(ContractRevert, InputError):
    solidity_name = "ZeroConsentId"


class ZeroCommitment(ContractRevert, InputError):
    solidity_name = "ZeroCommitment"


class InvalidValidity(ContractRevert, InputError):
    solidity_name = "InvalidValidity"
    fields = ("validFrom", "validUntil")


class TimestampOutOfRange(ContractRevert, InputError):
    solidity_name = "TimestampOutOfRange"
    fields = ("timestamp",)


class ConsentAlreadyRecorded(ContractRevert, ConflictError):
    solidity_name = "ConsentAlreadyRecorded"
    fields = ("consentId",)


class UnknownConsent(ContractRevert, NotFoundError):
    solidity_name = "UnknownConsent"
    fields = ("consentId",)


class ZeroRevocationTime(ContractRevert, InputError):
    solidity_name = "ZeroRevocationTime"


class LengthMismatch(ContractRevert, InputError):
    solidity_name = "LengthMismatch"


class EmptyBatch(ContractRevert, InputError):
    solidity_name = "EmptyBatch"


def error_selectors(abis: list[list[dict[str, Any]]]) -> dict[bytes, dict[str, Any]]:
    """Map each custom error's 4-byte selector to its ABI entry."""
    from eth_utils.crypto import keccak  # here: importing this module stays light

    table: dict[bytes, dict[str, Any]] = {}
    for abi in abis:
        for entry in abi:
            if entry.get("type") == "error":
                types = ",".join(i["type"] for i in entry["inputs"])
                table[keccak(text=f"{entry['name']}({types})")[:4]] = entry
    return table


def decode_revert(data: str, selectors: dict[bytes, dict[str, Any]]) -> ContractRevert:
    """Turn revert data (``0x`` + selector + arguments) into its typed exception."""
    raw = bytes.fromhex(data.removeprefix("0x")) if data else b""
    entry = selectors.get(raw[:4])
    cls = ContractRevert.by_name.get(entry["name"]) if entry else None
    if entry is None or cls is None:
        return UnknownContractError(data)
    from eth_abi.abi import decode as abi_decode  # here: importing this module stays light

    values = abi_decode([i["type"] for i in entry["inputs"]], raw[4:])
    return cls(*values)
