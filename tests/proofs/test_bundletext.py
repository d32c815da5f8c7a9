"""The one writer of bundle JSON: every form is the bundle's own data, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from ledger.proofs import (
    AnchorAttestation,
    BatchBundles,
    InclusionProofError,
    MerkleTree,
    ProofBundle,
    bundle_bytes,
    bundle_text,
    canonical_bytes,
    leaf_hash,
    make_bundle,
    verify_bundle,
)

ANCHOR = AnchorAttestation(
    chain_id=1337,
    registry=bytes(range(20)),
    tx_hash=bytes(range(32)),
    block_number=42,
    block_timestamp=datetime(2026, 11, 26, 4, tzinfo=UTC),
)
BATCH_ID = bytes(range(1, 33))
#: Non-ASCII, an escape JCS writes short, U+2028 raw, a nested object.
RECORDS = [
    {"record_id": f"R-{i}", "name": "张\u2028三", "tab": "\t", "n": i, "ids": {"k": [i, None]}}
    for i in range(70)
]
TEXTS = [canonical_bytes(r) for r in RECORDS]
HASHES = [leaf_hash(t) for t in TEXTS]


@pytest.mark.parametrize("size", range(1, 66))
def test_batch_bundles_are_the_checked_bundles_serialised(size: int) -> None:
    tree = MerkleTree(HASHES[:size])
    writer = BatchBundles(tree, BATCH_ID, ANCHOR)
    indexes = [*range(size), 0, size - 1]  # repeats are fine
    shown = [TEXTS[i] if n % 2 else None for n, i in enumerate(indexes)]
    for index, record, written in zip(indexes, shown, writer.write(indexes, shown), strict=True):
        data = None if record is None else RECORDS[index]
        bundle = make_bundle(data, index, tree, BATCH_ID, ANCHOR, leaf_hash=HASHES[index])
        assert written == orjson.dumps(bundle.to_json()) == bundle_bytes(bundle)
        verify_bundle(ProofBundle.from_json(orjson.loads(written)))


def test_batch_bundles_refuse_an_index_outside_the_tree() -> None:
    writer = BatchBundles(MerkleTree(HASHES[:5]), BATCH_ID, ANCHOR)
    assert writer.write([], []) == []
    for outside in (-1, 5):
        with pytest.raises(InclusionProofError):
            writer.write([0, outside], [None, None])
    with pytest.raises(ValueError, match="one record"):
        writer.write([0], [])


def test_bundle_text_is_indented_or_one_line_with_raw_utf8() -> None:
    bundle = make_bundle(RECORDS[3], 3, MerkleTree(HASHES[:9]), BATCH_ID, ANCHOR)
    indented, line = bundle_text(bundle), bundle_text(bundle, indent=None)
    assert indented == json.dumps(bundle.to_json(), ensure_ascii=False, indent=2)
    assert line == json.dumps(bundle.to_json(), ensure_ascii=False) and "\n" not in line
    assert "张" in indented
    for text in (indented, line):
        assert ProofBundle.loads(text) == bundle
