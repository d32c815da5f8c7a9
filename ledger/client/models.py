"""What :class:`~ledger.client.CreditAnchorClient` returns: frozen, typed values.

Each ``from_json`` parses an API answer strictly and raises
:class:`~ledger.client.errors.UnexpectedResponseError` (naming the member,
never its value) when it does not have the documented shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NoReturn, TypeVar, get_args

from ledger.client.errors import UnexpectedResponseError
from ledger.proofs import ProofBundle

Status = Literal["anchored", "pending", "unknown", "mismatch", "erased"]
STATUSES: tuple[str, ...] = get_args(Status)
_T = TypeVar("_T")


def _bad(path: str, reason: str) -> NoReturn:
    raise UnexpectedResponseError(f"the response member {path} {reason}")


def obj(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        _bad(path, "is not a JSON object")
    return value


def member(data: Mapping[str, object], key: str, kind: type[_T], path: str) -> _T:
    value = data.get(key)
    if kind is int and isinstance(value, bool):
        _bad(f"{path}.{key}", "is not an integer")
    if not isinstance(value, kind):
        _bad(f"{path}.{key}", f"is missing or not a {kind.__name__}")
    return value


def optional_str(data: Mapping[str, object], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        _bad(f"{path}.{key}", "is not a string")
    return value


def timestamp(value: str, path: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        _bad(path, "is not an ISO 8601 time")
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BatchAnchor:
    """Where a batch was anchored (``anchor`` of ``GET /v1/batches/{id}``)."""

    chain_id: int
    registry: str
    tx_hash: str
    block_number: int
    block_timestamp: datetime
    seq: int | None

    @classmethod
    def from_json(cls, value: object, path: str = "$.anchor") -> BatchAnchor:
        data = obj(value, path)
        seq = data.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            _bad(f"{path}.seq", "is not an integer")
        return cls(
            chain_id=member(data, "chain_id", int, path),
            registry=member(data, "registry", str, path),
            tx_hash=member(data, "tx_hash", str, path),
            block_number=member(data, "block_number", int, path),
            block_timestamp=timestamp(
                member(data, "block_timestamp", str, path), f"{path}.block_timestamp"
            ),
            seq=seq,
        )


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A batch: its manifest, status and (once anchored) its anchor."""

    batch_id: str
    kind: int
    status: Literal["pending", "confirming", "anchored"]
    tree_size: int
    root: str
    manifest_hash: str
    manifest: Mapping[str, object]
    created_at: datetime
    anchor: BatchAnchor | None

    @classmethod
    def from_json(cls, value: object) -> BatchInfo:
        data = obj(value, "$")
        status = member(data, "status", str, "$")
        if status not in ("pending", "confirming", "anchored"):
            _bad("$.status", "is not pending, confirming or anchored")
        anchor = data.get("anchor")
        return cls(
            batch_id=member(data, "batch_id", str, "$"),
            kind=member(data, "kind", int, "$"),
            status="anchored"
            if status == "anchored"
            else "confirming"
            if status == "confirming"
            else "pending",
            tree_size=member(data, "tree_size", int, "$"),
            root=member(data, "root", str, "$"),
            manifest_hash=member(data, "manifest_hash", str, "$"),
            manifest=member(data, "manifest", dict, "$"),
            created_at=timestamp(member(data, "created_at", str, "$"), "$.created_at"),
            anchor=None if anchor is None else BatchAnchor.from_json(anchor),
        )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """One item of ``POST /v1/verify``; ``bundle`` (checked offline) only when anchored."""

    status: Status
    leaf_hash: str
    batch_id: str | None
    bundle: ProofBundle | None = None

    @property
    def anchored(self) -> bool:
        return self.status == "anchored"


@dataclass(frozen=True, slots=True)
class SubmittedBatch:
    """One batch a submission anchored."""

    batch_id: str
    root: str
    tree_size: int
    tx_hash: str
    block_number: int
    resumed: bool

    @classmethod
    def from_json(cls, value: object, path: str) -> SubmittedBatch:
        data = obj(value, path)
        return cls(
            batch_id=member(data, "batch_id", str, path),
            root=member(data, "root", str, path),
            tree_size=member(data, "tree_size", int, path),
            tx_hash=member(data, "tx_hash", str, path),
            block_number=member(data, "block_number", int, path),
            resumed=member(data, "resumed", bool, path),
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused row: 1-based row number, field name and reason (never the value)."""

    row: int
    field: str
    reason: str

    @classmethod
    def from_json(cls, value: object, path: str) -> Rejection:
        data = obj(value, path)
        return cls(
            row=member(data, "row", int, path),
            field=member(data, "field", str, path),
            reason=member(data, "reason", str, path),
        )


@dataclass(frozen=True, slots=True)
class SubmissionReport:
    """The answer of ``POST /v1/submissions``."""

    submission_id: str
    already_complete: bool
    accepted: int
    rejected: int
    batches: tuple[SubmittedBatch, ...]
    rejections: tuple[Rejection, ...]

    @classmethod
    def from_json(cls, value: object) -> SubmissionReport:
        data = obj(value, "$")
        batches = member(data, "batches", list, "$")
        rejections = member(data, "rejections", list, "$")
        return cls(
            submission_id=member(data, "submission_id", str, "$"),
            already_complete=member(data, "already_complete", bool, "$"),
            accepted=member(data, "accepted", int, "$"),
            rejected=member(data, "rejected", int, "$"),
            batches=tuple(
                SubmittedBatch.from_json(b, f"$.batches[{i}]") for i, b in enumerate(batches)
            ),
            rejections=tuple(
                Rejection.from_json(r, f"$.rejections[{i}]") for i, r in enumerate(rejections)
            ),
        )


__all__ = [
    "STATUSES",
    "BatchAnchor",
    "BatchInfo",
    "Rejection",
    "Status",
    "SubmissionReport",
    "SubmittedBatch",
    "VerifyResult",
]
