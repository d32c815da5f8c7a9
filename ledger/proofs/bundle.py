"""Proof bundles: the fixed ``credit-anchor/proof-bundle/v1`` format and its offline check.

A bundle is pure data (DESIGN.md, "Formats (fixed)"): the desensitised record
with its salt (left out when only a hash was asked), its RFC 6962 leaf hash,
the audit path to the batch root, and the on-chain anchor of that root::

    {"format": "credit-anchor/proof-bundle/v1", "hash_alg": "sha256-rfc6962",
     "record": {...}, "leaf_hash": "0x...", "leaf_index": 17, "tree_size": 1000,
     "audit_path": ["0x...", ...], "root": "0x...", "batch_id": "0x...",
     "anchor": {"chain_id": 1337, "registry": "0x...", "tx_hash": "0x...",
                "block_number": 42, "block_timestamp": "2026-11-26T04:00:00Z"}}

:func:`verify_bundle` checks the math with nothing but the bundle: the record
hashes to ``leaf_hash`` (``SHA-256(0x00 || JCS(record))``) and the audit path
leads from it to ``root`` (RFC 9162 §2.1.3.2). The math does not vouch for the
anchor, the batch id or, fully, the tree size (some wrong sizes give the same
path shape); the registry does: ``isAnchoredLeaf`` checks the root is anchored
with that tree size. That one ``eth_call`` lives outside this package.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NoReturn

from ledger import jsontext
from ledger.proofs.canonical import MAX_DEPTH, _member, canonical_bytes, record_leaf_hash
from ledger.proofs.errors import BundleFormatError, CanonicalFormError, RecordMismatchError
from ledger.proofs.merkle import (
    HASH_SIZE,
    MAX_INCLUSION_PROOF_LENGTH,
    MAX_TREE_SIZE,
    MerkleTree,
    verify_inclusion,
)
from ledger.proofs.merkle import leaf_hash as leaf_hash_of  # make_bundle takes a leaf_hash

BUNDLE_FORMAT: Final = "credit-anchor/proof-bundle/v1"
HASH_ALG: Final = "sha256-rfc6962"  # SHA-256 leaves and nodes as RFC 6962 §2.1 hashes them
ADDRESS_SIZE: Final = 20  # an Ethereum account address
MAX_UINT64: Final = 2**64 - 1  # chain id and block number fit a uint64 on every client
# A bundle is one record plus at most 64 hashes: a few KB. 1 MiB leaves room for
# large records while capping what an untrusted file or request body can cost.
MAX_BUNDLE_BYTES: Final = 1024 * 1024
# Python's C JSON parser recurses once per nesting level, and the chain stack
# (py_ecc) raises the recursion limit to 100000: deep input would overflow the C
# stack and kill the process instead of raising RecursionError. A bundle nests
# one level around its record, whose own depth canonical_bytes bounds.
MAX_JSON_NESTING: Final = MAX_DEPTH + 1

_BUNDLE_KEYS: Final = (
    "format", "hash_alg", "leaf_hash", "leaf_index", "tree_size",
    "audit_path", "root", "batch_id", "anchor",
)  # fmt: skip
_ANCHOR_KEYS: Final = ("chain_id", "registry", "tx_hash", "block_number", "block_timestamp")
_LOWER_HEX: Final = re.compile(r"[0-9a-f]*")
_TIMESTAMP: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

#: What ``make_bundle`` takes instead of a whole tree: ``(audit_path, tree_size, root)``.
InclusionEvidence = tuple[Sequence[bytes], int, bytes]


def _fail(reason: str, path: str) -> NoReturn:
    raise BundleFormatError(reason, path=path)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorAttestation:
    """Where the root was anchored: the ``anchor`` member of a bundle (checked on chain)."""

    chain_id: int
    registry: bytes  # AnchorRegistry address, 20 bytes
    tx_hash: bytes
    block_number: int
    block_timestamp: datetime  # aware, whole seconds; kept in UTC

    def __post_init__(self) -> None:
        _check_uint(self.chain_id, "$.anchor.chain_id", MAX_UINT64, minimum=1)
        _check_bytes(self.registry, "$.anchor.registry", ADDRESS_SIZE)
        _check_bytes(self.tx_hash, "$.anchor.tx_hash", HASH_SIZE)
        _check_uint(self.block_number, "$.anchor.block_number", MAX_UINT64)
        object.__setattr__(self, "block_timestamp", _utc(self.block_timestamp))

    def to_json(self) -> dict[str, object]:
        """The ``anchor`` member, as DESIGN.md fixes it."""
        return {
            "chain_id": self.chain_id,
            "registry": "0x" + self.registry.hex(),
            "tx_hash": "0x" + self.tx_hash.hex(),
            "block_number": self.block_number,
            "block_timestamp": self.block_timestamp.replace(tzinfo=None).isoformat() + "Z",
        }

    @classmethod
    def from_json(cls, data: object) -> AnchorAttestation:
        """Parse the ``anchor`` member strictly; :class:`BundleFormatError` names the path."""
        members = _members(data, "$.anchor", _ANCHOR_KEYS)
        return cls(
            chain_id=_int(members["chain_id"], "$.anchor.chain_id"),
            registry=_hex(members["registry"], "$.anchor.registry", ADDRESS_SIZE),
            tx_hash=_hex(members["tx_hash"], "$.anchor.tx_hash", HASH_SIZE),
            block_number=_int(members["block_number"], "$.anchor.block_number"),
            block_timestamp=_timestamp(members["block_timestamp"], "$.anchor.block_timestamp"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofBundle:
    """One leaf's proof of inclusion in an anchored batch (``credit-anchor/proof-bundle/v1``).

    ``record`` is a private copy, exactly as its canonical bytes read back, and
    stays out of ``repr``; treat it as read-only.
    """

    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    audit_path: tuple[bytes, ...]
    root: bytes
    batch_id: bytes
    anchor: AnchorAttestation
    record: Mapping[str, object] | None = field(default=None, hash=False, repr=False)

    def __post_init__(self) -> None:
        _check_bytes(self.leaf_hash, "$.leaf_hash", HASH_SIZE)
        _check_uint(self.tree_size, "$.tree_size", MAX_TREE_SIZE, minimum=1)
        _check_uint(self.leaf_index, "$.leaf_index", MAX_TREE_SIZE)
        if self.leaf_index >= self.tree_size:
            _fail("must be below tree_size", "$.leaf_index")
        if not isinstance(self.audit_path, (list, tuple)):
            _fail("must be a list of hashes", "$.audit_path")
        if len(self.audit_path) > MAX_INCLUSION_PROOF_LENGTH:
            _fail(f"has more than {MAX_INCLUSION_PROOF_LENGTH} hashes", "$.audit_path")
        for index, node in enumerate(self.audit_path):
            _check_bytes(node, f"$.audit_path[{index}]", HASH_SIZE)
        _check_bytes(self.root, "$.root", HASH_SIZE)
        _check_bytes(self.batch_id, "$.batch_id", HASH_SIZE)
        if not isinstance(self.anchor, AnchorAttestation):
            _fail("must be an AnchorAttestation", "$.anchor")
        object.__setattr__(self, "audit_path", tuple(self.audit_path))
        if self.record is not None:
            object.__setattr__(self, "record", _own_record(self.record))

    def to_json(self) -> dict[str, object]:
        """The bundle as DESIGN.md fixes it: plain JSON types, members in the documented order.

        Its JSON text is :mod:`ledger.proofs.bundletext`'s to write.
        """
        data: dict[str, object] = {"format": BUNDLE_FORMAT, "hash_alg": HASH_ALG}
        if self.record is not None:
            data["record"] = copy.deepcopy(dict(self.record))
        data |= {
            "leaf_hash": "0x" + self.leaf_hash.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": ["0x" + node.hex() for node in self.audit_path],
            "root": "0x" + self.root.hex(),
            "batch_id": "0x" + self.batch_id.hex(),
            "anchor": self.anchor.to_json(),
        }
        return data

    @classmethod
    def from_json(cls, data: object) -> ProofBundle:
        """Parse a bundle strictly: exact format, known members only, canonical hex.

        Every problem is a :class:`BundleFormatError` naming its JSON path.
        """
        members = _members(data, "$", _BUNDLE_KEYS, optional=("record",))
        if members["format"] != BUNDLE_FORMAT:
            _fail(f"must be {BUNDLE_FORMAT!r}", "$.format")
        if members["hash_alg"] != HASH_ALG:
            _fail(f"must be {HASH_ALG!r}", "$.hash_alg")
        record: dict[str, object] | None = None
        if "record" in members:
            value = members["record"]
            if not isinstance(value, dict):
                _fail("must be a JSON object; leave it out when only a hash was asked", "$.record")
            record = value
        return cls(
            record=record,
            leaf_hash=_hex(members["leaf_hash"], "$.leaf_hash", HASH_SIZE),
            leaf_index=_int(members["leaf_index"], "$.leaf_index"),
            tree_size=_int(members["tree_size"], "$.tree_size"),
            audit_path=_audit_path(members["audit_path"]),
            root=_hex(members["root"], "$.root", HASH_SIZE),
            batch_id=_hex(members["batch_id"], "$.batch_id", HASH_SIZE),
            anchor=AnchorAttestation.from_json(members["anchor"]),
        )

    @classmethod
    def loads(cls, text: str | bytes) -> ProofBundle:
        """Parse JSON text of at most :data:`MAX_BUNDLE_BYTES`, refusing duplicate names and NaN."""
        if isinstance(text, bytes):
            if len(text) > MAX_BUNDLE_BYTES:
                _fail(f"is larger than {MAX_BUNDLE_BYTES} bytes", "$")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                _fail("is not UTF-8 text", "$")
        elif not isinstance(text, str):
            _fail("must be JSON text (str or bytes)", "$")
        elif len(text) > MAX_BUNDLE_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
            MAX_BUNDLE_BYTES
        ):
            _fail(f"is larger than {MAX_BUNDLE_BYTES} bytes", "$")
        return cls.from_json(_parse(text))


def verify_bundle(bundle: ProofBundle) -> None:
    """Check a bundle's math offline: record -> leaf hash -> audit path -> root.

    Returns nothing. Raises :class:`RecordMismatchError` when the record does not
    hash to ``leaf_hash``, :class:`~ledger.proofs.errors.InclusionProofError` for
    a malformed path and :class:`~ledger.proofs.errors.RootMismatchError` when it
    leads elsewhere. Whether ``root`` is anchored with ``tree_size`` is the
    registry's to say (``isAnchoredLeaf``), not this function's.
    """
    if bundle.record is not None:
        computed = record_leaf_hash(bundle.record)
        if computed != bundle.leaf_hash:
            raise RecordMismatchError(
                expected_leaf_hash=bundle.leaf_hash, computed_leaf_hash=computed
            )
    verify_inclusion(
        bundle.leaf_hash, bundle.leaf_index, bundle.tree_size, bundle.audit_path, bundle.root
    )


def make_bundle(
    record: Mapping[str, object] | None,
    leaf_index: int,
    tree: MerkleTree | InclusionEvidence,
    batch_id: bytes,
    anchor: AnchorAttestation,
    *,
    leaf_hash: bytes | None = None,
) -> ProofBundle:
    """Build the bundle for leaf ``leaf_index`` of ``tree`` and check that it verifies.

    ``tree`` is the batch's :class:`MerkleTree` or ``(audit_path, tree_size,
    root)``. With a record, the leaf hash is computed (and must equal
    ``leaf_hash`` if that is given too); without one, ``leaf_hash`` is required.
    """
    audit_path: Sequence[bytes]
    if isinstance(tree, MerkleTree):
        audit_path, tree_size, root = tree.inclusion_proof(leaf_index), tree.size, tree.root
    else:
        audit_path, tree_size, root = tree
    if record is not None:
        computed = leaf_hash_of(_record_bytes(record))
        if leaf_hash is not None and leaf_hash != computed:
            raise RecordMismatchError(expected_leaf_hash=leaf_hash, computed_leaf_hash=computed)
        leaf_hash = computed
    elif leaf_hash is None:
        _fail("is required when the bundle carries no record", "$.leaf_hash")
    bundle = ProofBundle(
        record=record,
        leaf_hash=leaf_hash,
        leaf_index=leaf_index,
        tree_size=tree_size,
        audit_path=tuple(audit_path),
        root=root,
        batch_id=batch_id,
        anchor=anchor,
    )
    verify_inclusion(leaf_hash, leaf_index, tree_size, bundle.audit_path, root)
    return bundle


# -- checks on Python values (dataclass fields) ---------------------------------------


def _check_bytes(value: object, path: str, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        _fail(f"must be {size} bytes", path)


def _check_uint(value: object, path: str, maximum: int, *, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail("must be an integer", path)
    if not minimum <= value <= maximum:
        _fail(f"must be in {minimum}..{maximum}", path)


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        _fail("must be a timezone-aware datetime", "$.anchor.block_timestamp")
    if value.microsecond:
        _fail("must be whole seconds (block timestamps are)", "$.anchor.block_timestamp")
    return value.astimezone(UTC)


def _record_bytes(record: object) -> bytes:
    """:func:`canonical_bytes` of a record, with errors pointing into ``$.record``."""
    if not isinstance(record, Mapping):
        _fail("must be a JSON object", "$.record")
    try:
        return canonical_bytes(record if isinstance(record, dict) else dict(record))
    except CanonicalFormError as error:
        raise BundleFormatError(error.reason, path="$.record" + error.path[1:]) from error


def _own_record(record: object) -> dict[str, object]:
    """A private deep copy of ``record``, exactly as its canonical bytes read back."""
    copied: dict[str, object] = json.loads(_record_bytes(record))
    return copied


# -- parsing JSON values -------------------------------------------------------------


def _parse(text: str) -> object:
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        members = dict(pairs)
        if len(members) != len(pairs):
            _fail("an object names the same member twice (I-JSON forbids it)", "$")
        return members

    def constant(name: str) -> NoReturn:
        _fail(f"holds {name}, which is not JSON", "$")

    try:
        data: object = jsontext.loads(
            text, limit=MAX_JSON_NESTING, object_pairs_hook=unique, parse_constant=constant
        )
    except BundleFormatError:
        raise
    except jsontext.JsonTooDeepError:
        _fail(f"nests deeper than {MAX_JSON_NESTING} levels", "$")
    except json.JSONDecodeError as error:
        _fail(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", "$")
    except ValueError:  # e.g. an integer longer than Python's int_max_str_digits
        _fail("is not valid JSON", "$")
    return data


def _members(
    data: object, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, object]:
    if not isinstance(data, dict):
        _fail("must be a JSON object", path)
    for key in required:
        if key not in data:
            _fail("is missing", f"{path}.{key}")
    for key in data:
        if not isinstance(key, str):
            _fail("has a member name that is not a string", path)
        if key not in required and key not in optional:
            _fail(f"is not a member of {BUNDLE_FORMAT}", _member(path, key))
    return data


def _int(value: object, path: str) -> int:
    """A JSON integer (not a bool, not 17.0); its range is the dataclass's to check."""
    if isinstance(value, bool) or not isinstance(value, int):
        _fail("must be an integer", path)
    return value


def _hex(value: object, path: str, size: int) -> bytes:
    if not (
        isinstance(value, str)
        and len(value) == 2 + 2 * size
        and value.startswith("0x")
        and _LOWER_HEX.fullmatch(value, 2)
    ):
        _fail(f"must be 0x and {2 * size} lower-case hex digits ({size} bytes)", path)
    return bytes.fromhex(value[2:])


def _audit_path(value: object) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        _fail("must be a list of hashes", "$.audit_path")
    if len(value) > MAX_INCLUSION_PROOF_LENGTH:
        _fail(f"has more than {MAX_INCLUSION_PROOF_LENGTH} hashes", "$.audit_path")
    return tuple(_hex(node, f"$.audit_path[{i}]", HASH_SIZE) for i, node in enumerate(value))


def _timestamp(value: object, path: str) -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        _fail("must be an ISO 8601 UTC time like 2026-11-26T04:00:00Z", path)
    try:
        return datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        _fail("is not a real date and time", path)
