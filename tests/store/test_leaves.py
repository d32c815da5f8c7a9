"""The leaf store: one conformance suite, over SQLite's bulk statements, the portable ones
on SQLite, and PostgreSQL's bulk path (COPY, key arrays)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from ledger.proofs import MerkleTree, leaf_hash, root_of
from ledger.store import Batch, Store, StoredLeaf, leaves
from ledger.store.leaves import SEGMENT_LEAVES, LeafKey, RecordKey
from ledger.store.models import batch_key
from tests.conftest import wait_until


@pytest.fixture(params=["sqlite-bulk", "sqlite-portable", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    if request.param == "sqlite-portable":  # the statements every other database runs
        monkeypatch.setattr(leaves.writing, "_bulk", lambda s: False)
        monkeypatch.setattr(leaves.reading, "_bulk", lambda s: False)
    if request.param == "postgresql":
        st_ = Store(request.getfixturevalue("pg_url"))
    else:
        st_ = Store.open(tmp_path)
    yield st_
    st_.close()


def _batch(s: object, batch_id: str | None = None, kind: int = 1) -> str:
    batch_id = batch_id or "0x" + os.urandom(32).hex()
    s.add(  # type: ignore[attr-defined]
        Batch(batch_id=batch_id, kind=kind, tree_size=0, root="0x" + os.urandom(32).hex(),
              manifest="{}", manifest_hash="0x00", status="pending", created_at="now")
    )  # fmt: skip
    s.flush()  # type: ignore[attr-defined]
    return batch_id


def _leaves(batch_id: str, n: int, *, prefix: str = "R") -> list[StoredLeaf]:
    out = []
    for i in range(n):
        data = json.dumps({"record_id": f"{prefix}-{i}", "v": "价" * (i % 5)}).encode()
        out.append(StoredLeaf(batch_id, i, f"{prefix}-{i}", leaf_hash(data), data))
    return out


@pytest.mark.parametrize("n", [1, 2, SEGMENT_LEAVES - 1, SEGMENT_LEAVES, SEGMENT_LEAVES + 1, 300])
def test_a_batch_reads_back_as_written(store: Store, n: int) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        written = _leaves(batch_id, n)
        leaves.add_leaves(s, batch_id, written)
    with store.session() as s:
        assert leaves.batch_leaves(s, batch_id) == written
        assert leaves.batch_hashes(s, batch_id) == [x.leaf_hash for x in written]
        assert leaves.leaf_at(s, batch_id, n - 1) == written[-1]
        assert leaves.leaf_at(s, batch_id, n) is None
        assert leaves.leaf_at(s, batch_id, -1) is None
        assert leaves.leaf_count(s) == leaves.record_count(s) == n


def test_columns_of_the_bulk_form_match_the_objects(store: Store) -> None:
    with store.session() as s, s.begin():
        a, b = _batch(s), _batch(s)
        objects = _leaves(a, 200)
        leaves.add_leaves(s, a, objects)
        datas = [x.canonical or b"" for x in objects]
        ends, at = [], 0
        for d in datas:
            at += len(d)
            ends.append(at)
        leaves.add_batch_leaves(
            s, b, [x.record_id for x in objects], b"".join(x.leaf_hash for x in objects),
            b"".join(datas), ends,
        )  # fmt: skip
    with store.session() as s:
        got_a, got_b = leaves.batch_leaves(s, a), leaves.batch_leaves(s, b)
    assert [(x.leaf_index, x.record_id, x.leaf_hash, x.canonical) for x in got_a] == [
        (x.leaf_index, x.record_id, x.leaf_hash, x.canonical) for x in got_b
    ]


def test_columns_of_different_lengths_are_refused(store: Store) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        with pytest.raises(ValueError, match="different lengths"):
            leaves.add_batch_leaves(s, batch_id, ["a", "b"], b"\x01" * 32, b"xy", [1, 2])


def test_a_conflicting_key_insert_fails_and_rolls_the_whole_transaction_back(
    store: Store,
) -> None:
    # The bulk key inserts run OR FAIL (no statement journal): a conflict must still
    # raise, and the caller's rollback must take every row of the transaction with it.
    with store.session() as s, s.begin():
        kept = _batch(s)
        leaves.add_leaves(s, kept, _leaves(kept, 5, prefix="K"))
    with store.session() as s:
        before = leaves.leaf_count(s), leaves.record_count(s), _stored_record_keys(s)
    with store.session() as s:
        batch_id = _batch(s)
        written = _leaves(batch_id, 300)
        # the key row leaf 250 will want, already there: the bulk insert stops midway
        taken = {"key": leaves.leaf_key(written[250].leaf_hash), "batch_key": batch_key(batch_id)}
        s.execute(insert(LeafKey).values(**taken, leaf_index=250, erased=False))
        with pytest.raises(SqlIntegrityError):
            leaves.add_leaves(s, batch_id, written)
        s.rollback()
    with store.session() as s:
        assert (leaves.leaf_count(s), leaves.record_count(s), _stored_record_keys(s)) == before
        assert s.get(Batch, batch_id) is None
        assert [x.record_id for x in leaves.batch_leaves(s, kept)] == [f"K-{i}" for i in range(5)]


def test_found_by_hash_and_by_record_id(store: Store) -> None:
    with store.session() as s, s.begin():
        one, two = _batch(s), _batch(s)
        leaves.add_leaves(s, one, _leaves(one, 150, prefix="A"))
        leaves.add_leaves(s, two, _leaves(two, 20, prefix="B"))
    with store.session() as s:
        wanted = [leaves.leaf_at(s, one, 149), leaves.leaf_at(s, two, 3)]
        assert None not in wanted
        by_hash = leaves.find_by_hash(s, [x.leaf_hash for x in wanted] + [os.urandom(32)])  # type: ignore[union-attr]
        assert {h: [(r.batch_id, r.leaf_index) for r in refs] for h, refs in by_hash.items()} == {
            wanted[0].leaf_hash: [(one, 149)],  # type: ignore[union-attr]
            wanted[1].leaf_hash: [(two, 3)],  # type: ignore[union-attr]
        }
        by_id = leaves.find_by_record_id(s, ["A-149", "B-3", "C-0", "A-149"])
        assert {k: [(r.batch_id, r.leaf_index) for r in v] for k, v in by_id.items()} == {
            "A-149": [(one, 149)],
            "B-3": [(two, 3)],
        }


def test_a_key_that_matches_is_confirmed_against_the_full_value(store: Store) -> None:
    """Keys are 64-bit prefixes: a forged key row (or a real collision) finds nothing."""
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        leaves.add_leaves(s, batch_id, _leaves(batch_id, 3))
        stored = leaves.leaf_at(s, batch_id, 0)
        assert stored is not None
        other = stored.leaf_hash[:8] + os.urandom(24)  # same key, another hash
        s.add(
            RecordKey(
                key=leaves.record_key("NOT-THERE"), batch_key=batch_key(batch_id), leaf_index=1
            )
        )
    with store.session() as s:
        assert leaves.find_by_hash(s, [other]) == {}
        assert list(leaves.find_by_hash(s, [stored.leaf_hash])) == [stored.leaf_hash]
        assert leaves.find_by_record_id(s, ["NOT-THERE"]) == {}


def test_erasure_keeps_the_hash_and_unlinks_the_record(store: Store) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        written = _leaves(batch_id, 140)
        leaves.add_leaves(s, batch_id, written)
    with store.session() as s, s.begin():
        assert leaves.erase_leaves(s, [(batch_id, 5), (batch_id, 130), (batch_id, 5)]) == 2
    with store.session() as s:
        got = leaves.batch_leaves(s, batch_id)
        assert [x.leaf_hash for x in got] == [x.leaf_hash for x in written]
        for i in (5, 130):
            assert got[i].erased and got[i].record_id is None and got[i].canonical is None
        assert [x for i, x in enumerate(got) if i not in (5, 130)] == [
            x for i, x in enumerate(written) if i not in (5, 130)
        ]
        assert leaves.find_by_record_id(s, ["R-5", "R-6"]).keys() == {"R-6"}
        (ref,) = leaves.find_by_hash(s, [written[130].leaf_hash])[written[130].leaf_hash]
        assert ref.erased and ref.leaf_index == 130
        assert leaves.record_count(s) == 138 and leaves.leaf_count(s) == 140
        assert not any(b'"R-5"' in (x.canonical or b"") for x in got)


def test_holes_are_skipped_and_have_no_keys(store: Store) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        some = [x for x in _leaves(batch_id, 10) if x.leaf_index in (0, 4, 9)]
        leaves.add_leaves(s, batch_id, some)
    with store.session() as s:
        assert leaves.batch_leaves(s, batch_id) == some
        assert leaves.leaf_at(s, batch_id, 3) is None
        assert s.query(LeafKey).count() == 3


def test_duplicates_and_the_scan(store: Store) -> None:
    with store.session() as s, s.begin():
        one, two = _batch(s, kind=1), _batch(s, kind=2)
        leaves.add_leaves(s, one, _leaves(one, 5))
        leaves.add_leaves(s, two, _leaves(two, 3))  # R-0..R-2 again, in another kind
    with store.session() as s:
        dups = leaves.duplicate_record_ids(s)
        assert sorted(dups) == ["R-0", "R-1", "R-2"]
        assert all(len(refs) == 2 for refs in dups.values())
        found = list(leaves.scan(s, b'"R-1"'))
        assert sorted((x.batch_id, x.leaf_index) for x in found) == sorted([(one, 1), (two, 1)])
        assert [x.batch_id for x in leaves.scan(s, b'"R-1"', kind=2)] == [two]
        assert list(leaves.scan(s, b"no such bytes")) == []


def test_tampered_segment_columns_read_as_what_is_left(store: Store) -> None:
    from ledger.store.leaves import LeafSegment

    with store.session() as s, s.begin():
        batch_id = _batch(s)
        leaves.add_leaves(s, batch_id, _leaves(batch_id, 6))
        row = s.get_one(LeafSegment, (batch_id, 0))
        row.record_ids = "not json"
        row.lengths = row.lengths[:9]  # two lengths and a stray byte
        row.hashes = row.hashes[: 32 * 5]
    with store.session() as s:
        got = leaves.batch_leaves(s, batch_id)
        assert [x.leaf_index for x in got] == [0, 1, 2, 3, 4]
        assert all(x.record_id is None for x in got)
        assert [x.canonical is not None for x in got] == [True, True, False, False, False]


def _stored_records(s: object, batch_id: str) -> list[bytes]:
    from ledger.store.leaves import LeafSegment

    rows = s.query(LeafSegment).filter_by(batch_id=batch_id).order_by(LeafSegment.segment)  # type: ignore[attr-defined]
    return [row.canonicals for row in rows]


def test_records_are_stored_as_one_zstd_frame_per_segment(store: Store) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        written = _leaves(batch_id, 300)
        leaves.add_leaves(s, batch_id, written)
    with store.session() as s:
        stored = _stored_records(s, batch_id)
    assert len(stored) == 3 and all(x.startswith(leaves.ZSTD_MAGIC) for x in stored)
    plain = b"".join(x.canonical or b"" for x in written)
    assert sum(map(len, stored)) < len(plain) / 2
    assert b'"R-1"' in plain and not any(b'"R-1"' in x for x in stored)
    assert b"".join(zstandard.ZstdDecompressor().decompress(x) for x in stored) == plain


def test_a_large_batch_is_packed_on_threads_as_one_would_inline(store: Store) -> None:
    with store.session() as s, s.begin():
        big = _batch(s)
        written = [
            StoredLeaf(big, i, f"B-{i}", leaf_hash(d), d)
            for i, d in enumerate(
                json.dumps({"record_id": f"B-{i}", "pad": os.urandom(600).hex()}).encode()
                for i in range(1200)
            )
        ]
        assert sum(len(x.canonical or b"") for x in written) > leaves.packing._PACK_INLINE_BYTES
        leaves.add_leaves(s, big, written)
    with store.session() as s:
        assert leaves.batch_leaves(s, big) == written
        assert _stored_records(s, big)[0] == leaves.pack_records(
            b"".join(x.canonical or b"" for x in written[:SEGMENT_LEAVES])
        )
        stored = _stored_records(s, big)
    from itertools import accumulate

    blob = b"".join(x.canonical or b"" for x in written)
    ahead = leaves.pack_ahead(
        [x.record_id or "" for x in written],
        b"".join(x.leaf_hash for x in written),
        blob,
        list(accumulate(len(x.canonical or b"") for x in written)),
    )
    assert ahead is not None and ahead.frames() == stored  # queued ahead: the same frames


def _segment_rows(s: Session, batch_id: str) -> list[tuple[Any, ...]]:
    """Every stored column of a batch's segments but the batch id."""
    from ledger.store.leaves import LeafSegment

    rows = s.scalars(
        select(LeafSegment).where(LeafSegment.batch_id == batch_id).order_by(LeafSegment.segment)
    )
    return [(r.segment, r.size, r.hashes, r.record_ids, r.lengths, r.canonicals) for r in rows]


def _key_rows(s: Session, batch_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The (key, leaf index, ...) rows of a batch's leaf and record keys."""
    bkey = batch_key(batch_id)
    lk = s.execute(
        select(LeafKey.key, LeafKey.leaf_index, LeafKey.erased)
        .where(LeafKey.batch_key == bkey)
        .order_by(LeafKey.key)
    )
    rk = s.execute(
        select(RecordKey.key, RecordKey.leaf_index)
        .where(RecordKey.batch_key == bkey)
        .order_by(RecordKey.key)
    )
    return [tuple(r) for r in lk], [tuple(r) for r in rk]


def test_leaves_packed_ahead_are_stored_as_made_inline(store: Store) -> None:
    """PackedRecords makes a batch's columns while it waits: the same rows, the same leaves."""
    from itertools import accumulate

    with store.session() as s, s.begin():
        ahead, inline = _batch(s), _batch(s)
        written = _leaves(ahead, 300)
        blob = bytearray(b"".join(x.canonical or b"" for x in written))
        ends = list(accumulate(len(x.canonical or b"") for x in written))
        hashes = b"".join(x.leaf_hash for x in written)
        ids = [x.record_id for x in written]
        assert len(blob) < leaves.packing._PACK_INLINE_BYTES
        # small: compressed when it is stored
        assert leaves.pack_ahead(ids, hashes, blob, ends) is None
        packed = leaves.PackedRecords(ids, hashes, blob, ends)
        assert packed.fits(ids, hashes, blob, ends)
        assert not packed.fits(ids, hashes, blob[:-1], ends)
        assert not packed.fits(ids[:-1], hashes, blob, ends)
        assert packed.record_keys() == (
            leaves.record_keys(ids),
            json.dumps(leaves.record_keys(ids)),
        )
        leaves.add_batch_leaves(s, ahead, ids, hashes, bytes(blob), ends, packed=packed)
        leaves.add_batch_leaves(s, inline, ids, hashes, bytes(blob), ends)
        other = leaves.PackedRecords(ids, hashes, blob[:-1], [*ends[:-1], ends[-1] - 1])
        with pytest.raises(ValueError, match="packed records of other leaves"):
            leaves.add_batch_leaves(s, _batch(s), ids, hashes, bytes(blob), ends, packed=other)
    with store.session() as s:
        assert _segment_rows(s, ahead) == _segment_rows(s, inline)
        assert _key_rows(s, ahead) == _key_rows(s, inline)
        assert leaves.batch_leaves(s, ahead) == written


def test_records_stored_raw_by_an_older_store_still_read(store: Store) -> None:
    from ledger.store.leaves import LeafSegment

    with store.session() as s, s.begin():
        batch_id = _batch(s)
        written = _leaves(batch_id, 140)
        leaves.add_leaves(s, batch_id, written)
        for row in s.query(LeafSegment).filter_by(batch_id=batch_id):
            row.canonicals = leaves.unpack_records(row.canonicals, len(_plain(row)))
    with store.session() as s:
        assert not any(x.startswith(leaves.ZSTD_MAGIC) for x in _stored_records(s, batch_id))
        assert leaves.batch_leaves(s, batch_id) == written
        assert [x.batch_id for x in leaves.scan(s, b'"R-7"')] == [batch_id]
    with store.session() as s, s.begin():  # erasing in a raw segment writes a frame
        assert leaves.erase_leaves(s, [(batch_id, 7)]) == 1
    with store.session() as s:
        first = _stored_records(s, batch_id)[0]
        assert first.startswith(leaves.ZSTD_MAGIC)
        got = leaves.batch_leaves(s, batch_id)
        assert got[7].erased and got[:7] == written[:7] and got[8:] == written[8:]


def _plain(row: object) -> bytes:
    import struct

    lengths = [n for (n,) in struct.iter_unpack("<I", row.lengths)]  # type: ignore[attr-defined]
    return bytes(sum(lengths))


def test_the_erasure_scan_finds_records_inside_frames(store: Store) -> None:
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        leaves.add_leaves(s, batch_id, _leaves(batch_id, 200))
    with store.session() as s:
        assert [x.leaf_index for x in leaves.scan(s, b'"R-150"')] == [150]
        assert list(leaves.scan(s, b'"R-999"')) == []


@pytest.mark.parametrize(
    "damage",
    ["flip a byte", "truncate", "declare another size", "declare a huge size", "not a frame"],
)
def test_a_damaged_frame_reads_as_empty_records_never_as_others(damage: str) -> None:
    data = b"".join(json.dumps({"record_id": f"R-{i}"}).encode() for i in range(50))
    frame = leaves.pack_records(data)
    assert leaves.unpack_records(frame, len(data)) == data
    if damage == "flip a byte":
        bad = frame[:-9] + bytes([frame[-9] ^ 0x40]) + frame[-8:]
    elif damage == "truncate":
        bad = frame[: len(frame) // 2]
    elif damage == "declare another size":
        bad = leaves.pack_records(data + b"{}")
    elif damage == "declare a huge size":  # a header claiming 2**40 bytes allocates nothing
        small = zstandard.ZstdCompressor(level=1).compress(b"{}")
        assert small[4] == 0x20  # single segment, a 1-byte content size: blocks from byte 6
        # the same blocks under a descriptor with an 8-byte content size (RFC 8878 §3.1.1.1)
        bad = leaves.ZSTD_MAGIC + b"\xe0" + (1 << 40).to_bytes(8, "little") + small[6:]
        assert zstandard.frame_content_size(bad) == 1 << 40
    else:
        bad = leaves.ZSTD_MAGIC + b"garbage"
    out = leaves.unpack_records(bad, len(data))
    assert out in (b"", data)  # a flipped byte in a part zstd does not check may still decode
    if damage != "flip a byte":
        assert out == b""
    assert leaves.unpack_records(b"", 0) == b"" and leaves.unpack_records(None, 0) == b""
    assert leaves.pack_records(b"") == b""


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 600))
def test_the_root_of_joined_hashes_is_the_merkle_tree_root(n: int) -> None:
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    assert root_of(b"".join(hashes)) == MerkleTree(hashes).root


def test_record_keys_are_the_ones_stores_hold() -> None:
    # Written by the earlier C implementation: stored keys must keep finding their leaves.
    ids = ["RPT-9-0", "报告-1", ""]
    assert leaves.record_keys(ids) == [
        3784843980726643516,
        5805478193475246249,
        -2039914840885289964,
    ]


@given(ids=st.lists(st.text(max_size=70), max_size=30))
def test_record_keys_are_each_ids_record_key(ids: list[str]) -> None:
    # Lone surrogates included: an id from a command line of invalid UTF-8 is keyed too.
    assert leaves.record_keys(ids) == [leaves.record_key(i) for i in ids]


def _stored_record_keys(s: object) -> list[tuple[int, int, int]]:
    rows = s.query(RecordKey.key, RecordKey.batch_key, RecordKey.leaf_index)  # type: ignore[attr-defined]
    return sorted(tuple(r) for r in rows)


def test_claiming_record_keys_stores_them_only_when_all_are_new(db_url: str) -> None:
    store = Store(db_url)
    try:
        with store.session() as s, s.begin():
            first = _batch(s)
            leaves.add_leaves(s, first, _leaves(first, 3, prefix="OLD"))
        before_ids = [f"NEW-{i}" for i in range(4)]
        with store.session() as s, s.begin():
            assert leaves.bulk(s)  # the claim is for stores with bulk statements: these two
            fresh = "0x" + os.urandom(32).hex()
            before = _stored_record_keys(s)
            keys = leaves.record_keys(before_ids)
            assert leaves.claim_record_keys(s, fresh, keys)
            added = set(_stored_record_keys(s)) - set(before)
            assert added == {(k, batch_key(fresh), i) for i, k in enumerate(keys)}
        with store.session() as s, s.begin():
            taken = leaves.record_keys(["NEW-9", "OLD-1", "NEW-8"])  # OLD-1 is stored
            other = "0x" + os.urandom(32).hex()
            before = _stored_record_keys(s)
            assert not leaves.claim_record_keys(s, other, taken)
            assert _stored_record_keys(s) == before  # nothing left behind
            # a new batch whose key an existing batch has: refused before any insert
            clash = first[:18] + os.urandom(23).hex()
            assert batch_key(clash) == batch_key(first)
            assert not leaves.claim_record_keys(s, clash, leaves.record_keys(["NEW-7"]))
            assert _stored_record_keys(s) == before
    finally:
        store.close()


def test_an_erased_leaf_is_stored_with_its_hash_and_no_record(store: Store) -> None:
    """As an auditor's rebuild stores a leaf erased before the export: its hash and leaf
    key, no record id, no record key, zero bytes."""
    with store.session() as s, s.begin():
        batch_id = _batch(s)
        written = _leaves(batch_id, 3)
        datas = [written[0].canonical or b"", b"", written[2].canonical or b""]
        leaves.add_batch_leaves(
            s,
            batch_id,
            ["R-0", None, "R-2"],
            b"".join(x.leaf_hash for x in written),
            b"".join(datas),
            [len(datas[0]), len(datas[0]), len(datas[0]) + len(datas[2])],
        )
    with store.session() as s:
        got = leaves.batch_leaves(s, batch_id)
        assert [x.leaf_hash for x in got] == [x.leaf_hash for x in written]
        assert got[1].erased and got[1].record_id is None
        assert [got[0], got[2]] == [written[0], written[2]]
        assert s.query(LeafKey).count() == 3
        assert sorted(i for _, _, i in _stored_record_keys(s)) == [0, 2]
        assert leaves.find_by_record_id(s, ["R-1"]) == {}
        (ref,) = leaves.find_by_hash(s, [written[1].leaf_hash])[written[1].leaf_hash]
        assert ref.leaf_index == 1


def test_a_rolled_back_batch_leaves_nothing(store: Store) -> None:
    with store.session() as s:
        batch_id = _batch(s)
        leaves.add_leaves(s, batch_id, _leaves(batch_id, 300))
        assert leaves.leaf_count(s) == 300  # written, in this transaction
        s.rollback()
    with store.session() as s:
        assert (leaves.leaf_count(s), leaves.record_count(s), s.query(LeafKey).count()) == (0, 0, 0)
        assert s.get(Batch, batch_id) is None


def test_claims_of_the_same_keys_by_two_transactions_wait_for_each_other(pg_url: str) -> None:
    """On PostgreSQL two submissions' transactions run at once: the second claim waits
    for the first to commit, then sees its keys (read committed alone would not)."""
    store = Store(pg_url)
    keys = leaves.record_keys(["SAME-1", "SAME-2"])
    outcome: list[bool] = []
    try:
        with store.session() as first, first.begin():
            assert leaves.claim_record_keys(first, "0x" + os.urandom(32).hex(), keys)

            def second() -> None:
                with store.session() as s, s.begin():
                    outcome.append(leaves.claim_record_keys(s, "0x" + os.urandom(32).hex(), keys))

            waiter = threading.Thread(target=second)
            waiter.start()
            with store.engine.connect() as watch:
                wait_until(
                    lambda: watch.scalar(
                        text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND NOT granted")
                    )
                )  # fmt: skip
            assert outcome == []  # still waiting
        waiter.join(timeout=60)
        assert outcome == [False]
        with store.session() as s:
            assert len(_stored_record_keys(s)) == 2
    finally:
        store.close()
