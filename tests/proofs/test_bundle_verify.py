"""verify_bundle: every honest bundle verifies; every one-byte change to what the math covers fails.

The math covers the record, leaf hash, leaf index, audit path and root. It does
not cover ``batch_id`` or ``anchor`` (the registry attests those), nor fully
``tree_size``: RFC 9162 §2.1.3.2 reads only the path's shape from it, so the
registry's ``isAnchoredLeaf`` must check the root is anchored with that size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.errors import LedgerError
from ledger.proofs import (
    AnchorAttestation,
    MerkleTree,
    ProofBundle,
    RecordMismatchError,
    RootMismatchError,
    bundle_text,
    make_bundle,
    record_leaf_hash,
    verify_bundle,
)

MAX_SIZE = 40
ANCHOR = AnchorAttestation(
    chain_id=1337,
    registry=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
    tx_hash=hashlib.sha256(b"tx").digest(),
    block_number=42,
    block_timestamp=datetime(2026, 11, 26, 4, tzinfo=UTC),
)
BATCH_ID = hashlib.sha256(b"batch").digest()
HEX = "0123456789abcdef"


def salted_record(i: int) -> dict[str, object]:
    return {
        "record_id": f"R{i}",
        "salt": "0x" + hashlib.sha256(b"salt %d" % i).hexdigest(),
        "balance": f"{i}2.00",
        "subject_pseudonym": "0x" + hashlib.sha256(b"subject %d" % (i % 5)).hexdigest(),
        "region": "广东省深圳市",
        "overdue_days": i % 4,
        "funders": [{"name": "银行A", "share_bp": 6000}, {"name": "B", "share_bp": 4000}],
        "written_off": i % 2 == 0,
        "note": None,
    }


RECORDS = [salted_record(i) for i in range(MAX_SIZE)]
LEAVES = [record_leaf_hash(r) for r in RECORDS]
TREES = {n: MerkleTree(LEAVES[:n]) for n in range(1, MAX_SIZE + 1)}
# Small and large trees, first, middle and last leaves, left and right edges.
TAMPER_CASES = [(1, 0), (2, 1), (5, 4), (13, 5), (32, 17), (40, 0), (40, 39)]


def bundle_for(size: int, index: int) -> ProofBundle:
    return make_bundle(RECORDS[index], index, TREES[size], BATCH_ID, ANCHOR)


def other_char(c: str) -> str:
    """A different character of the same kind: hex stays hex, so only the math can object."""
    if c in HEX:
        return HEX[(HEX.index(c) + 1) % 16]
    return chr(ord(c) ^ 1)


def refusal(data: object) -> LedgerError | None:
    try:
        verify_bundle(ProofBundle.from_json(data))
    except LedgerError as error:
        return error
    return None


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_leaf_of_every_small_tree_verifies(size: int) -> None:
    tree = TREES[size]
    for index in range(size):
        bundle = make_bundle(RECORDS[index], index, tree, BATCH_ID, ANCHOR)
        verify_bundle(bundle)
        verify_bundle(ProofBundle.from_json(bundle.to_json()))
        verify_bundle(ProofBundle.loads(bundle_text(bundle)))
        hashed = make_bundle(None, index, tree, BATCH_ID, ANCHOR, leaf_hash=LEAVES[index])
        verify_bundle(ProofBundle.loads(bundle_text(hashed)))


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_other_leaf_index_fails(size: int) -> None:
    tree = TREES[size]
    for index in range(size):
        bundle = make_bundle(None, index, tree, BATCH_ID, ANCHOR, leaf_hash=LEAVES[index])
        for wrong in range(size):
            if wrong != index:
                with pytest.raises(LedgerError):
                    verify_bundle(dataclasses.replace(bundle, leaf_index=wrong))


def string_positions(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every string and int inside ``value`` (dict keys included, as ``("key", k)``)."""
    if isinstance(value, dict):
        found = [(*path, ("key", k)) for k in value]
        for k, v in value.items():
            found += string_positions(v, (*path, k))
        return found
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in string_positions(v, (*path, i))]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [path]
    return []


def mutated(data: dict[str, Any], path: tuple[Any, ...], char: int) -> dict[str, Any] | None:
    """``data`` with character ``char`` of the string (or int) at ``path`` changed.

    None when the string is shorter than that.
    """
    copy: dict[str, Any] = json.loads(json.dumps(data))
    parent: Any = copy
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if isinstance(last, tuple):  # a dict key
        old = last[1]
        if char >= len(old):
            return None
        new = old[:char] + other_char(old[char]) + old[char + 1 :]
        parent[new] = parent.pop(old)
        return copy
    value = parent[last]
    text = str(value)
    if char >= len(text):
        return None
    text = text[:char] + other_char(text[char]) + text[char + 1 :]
    parent[last] = text if isinstance(value, str) else int(text) if text.isdigit() else text
    return copy


@pytest.mark.parametrize(("size", "index"), TAMPER_CASES)
def test_any_one_character_change_to_the_record_fails(size: int, index: int) -> None:
    data = bundle_for(size, index).to_json()
    checked = 0
    for path in string_positions(data["record"], ("record",)):
        for char in range(80):
            changed = mutated(data, path, char)
            if changed is None:
                break
            error = refusal(changed)
            assert isinstance(error, RecordMismatchError), (path, char)
            checked += 1
    assert checked > 200


@pytest.mark.parametrize(("size", "index"), TAMPER_CASES)
def test_any_one_hex_digit_change_to_a_hash_fails(size: int, index: int) -> None:
    data = bundle_for(size, index).to_json()
    paths: list[tuple[Any, ...]] = [("leaf_hash",), ("root",)]
    paths += [("audit_path", i) for i in range(len(data["audit_path"]))]  # type: ignore[arg-type]
    for path in paths:
        for char in range(2, 66):  # every digit after "0x"
            changed = mutated(data, path, char)
            assert changed is not None
            error = refusal(changed)
            assert isinstance(error, (RecordMismatchError, RootMismatchError)), (path, char)


@pytest.mark.parametrize(("size", "index"), TAMPER_CASES)
def test_any_one_byte_change_is_refused_or_left_to_the_anchor(size: int, index: int) -> None:
    """Flip each byte of the serialised bundle: it fails, or changes only what the chain checks."""
    original = bundle_for(size, index)
    text = json.dumps(original.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
    for position in range(len(text)):
        for flip in (0x01, 0x02):
            changed = bytearray(text)
            changed[position] ^= flip
            try:
                bundle = ProofBundle.loads(bytes(changed))
                verify_bundle(bundle)
            except LedgerError:
                continue
            covered = ("record", "leaf_hash", "leaf_index", "audit_path", "root")
            for name in covered:
                assert getattr(bundle, name) == getattr(original, name), (position, flip, name)


def test_tree_size_is_bound_by_the_anchor_not_by_the_math() -> None:
    """Leaf 5 of 13 has the same path shape in a tree of 16: the math alone accepts it.

    So a verifier must check, as ``AnchorRegistry.isAnchoredLeaf`` does, that the
    root was anchored with this tree size.
    """
    bundle = bundle_for(13, 5)
    verify_bundle(dataclasses.replace(bundle, tree_size=16))
    for wrong in (6, 7, 8, 17, 32, 2**64 - 1):
        with pytest.raises(LedgerError):
            verify_bundle(dataclasses.replace(bundle, tree_size=wrong))
