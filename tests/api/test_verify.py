"""``POST /v1/verify`` and ``GET /v1/proofs``: anchored, pending, unknown, mismatch."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, event

from api.models import VerifyResponse
from api.routers.verify import INLINE_ITEMS
from ledger.anchoring import bundles
from ledger.anchoring.bundles import TREES, TreeCache, find_leaf
from ledger.chain import Chain
from ledger.proofs import (
    ProofBundle,
    bundle_bytes,
    canonical_bytes,
    leaf_hash,
    record_canonical,
    record_leaf_hash,
    verify_bundle,
)
from ledger.store import Batch, Store, StoredLeaf, leaves
from tests.api.conftest import ROWS, Api

PENDING_BATCH = "0x" + "5e" * 32


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def post_verify(api: Api, body: dict[str, Any], who: str = "partner") -> dict[str, Any]:
    answer = api.client.post("/v1/verify", json=body, headers=api.headers(who))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    # Served without response validation (api.responses): check it against the model here.
    VerifyResponse.model_validate(result)
    return result


@pytest.fixture
def pending(api: Api) -> Iterator[dict[str, Any]]:
    """A stored batch whose anchor was never sent (as after a crash before the outbox)."""
    record = {"record_id": "PENDING-1", "salt": hx(os.urandom(32)), "reporter_org_code": "X"}
    canonical = canonical_bytes(record)
    store = Store.for_settings(api.settings)
    with store.session() as s, s.begin():
        s.add(
            Batch(
                batch_id=PENDING_BATCH, submission_id=None, kind=1, tree_size=1,
                root=hx(leaf_hash(canonical)), manifest="{}", manifest_hash="0x" + "00" * 32,
                status="pending", created_at="2026-11-26T04:00:00Z",
            )
        )  # fmt: skip
        s.flush()
        leaves.add_leaves(
            s,
            PENDING_BATCH,
            [StoredLeaf(PENDING_BATCH, 0, "PENDING-1", leaf_hash(canonical), canonical)],
        )
    yield record
    with store.session() as s, s.begin():
        leaves.delete_batch_leaves(s, PENDING_BATCH)
        s.execute(delete(Batch).where(Batch.batch_id == PENDING_BATCH))
    store.close()


def test_records_are_anchored_with_bundles_that_verify(api: Api) -> None:
    records = api.stored_records()
    assert len(records) == ROWS
    result = post_verify(api, {"records": records})
    assert result["counts"] == {
        "anchored": ROWS,
        "pending": 0,
        "unknown": 0,
        "mismatch": 0,
        "erased": 0,
    }
    batches = {b["batch_id"]: b for b in api.submitted["batches"]}
    for item, record in zip(result["results"], records, strict=True):
        assert item["status"] == "anchored"
        bundle = ProofBundle.from_json(item["bundle"])
        verify_bundle(bundle)
        assert bundle.record == record
        assert item["leaf_hash"] == hx(record_leaf_hash(record))
        assert hx(bundle.root) == batches[item["batch_id"]]["root"]


def test_written_bundle_bytes_are_the_checked_bundle_serialised(api: Api) -> None:
    store = Store.for_settings(api.settings)
    try:
        for record in api.stored_records():
            text = record_canonical(record)
            digest = leaf_hash(text)
            leaf = find_leaf(store, hx(digest))
            batch = TREES.anchored(store, leaf.batch_id)
            assert batch is not None
            (written,) = batch.writer.write([leaf.leaf_index], [text])
            # The record as its JCS text has its keys sorted; the checked bundle, given
            # the record in that order, serialises to the very same bytes.
            sorted_record = orjson.loads(text)
            checked = batch.bundle(sorted_record, leaf.leaf_index, digest).to_json()
            assert written == orjson.dumps(checked)
            assert written == bundle_bytes(batch.bundle(sorted_record, leaf.leaf_index, digest))
            assert ProofBundle.from_json(orjson.loads(written)).record == record
            bare = batch.bundle(None, leaf.leaf_index, digest).to_json()
            assert batch.writer.write([leaf.leaf_index], [None]) == [orjson.dumps(bare)]
    finally:
        store.close()


def test_the_tree_cache_is_bounded_by_trees_and_by_leaves(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.for_settings(api.settings)
    try:
        with store.session() as s:
            ids = [b.batch_id for b in s.query(Batch).filter(Batch.status == "anchored")]
        assert len(ids) >= 2
        sizes = {i: TREES.anchored(store, i).tree.size for i in ids}  # type: ignore[union-attr]
        by_count = TreeCache(size=1)
        for batch_id in ids:
            assert by_count.anchored(store, batch_id) is not None
            assert by_count.cached(batch_id) is not None
        assert [by_count.cached(i) is not None for i in ids] == [False] * (len(ids) - 1) + [True]
        monkeypatch.setattr(bundles, "MAX_CACHED_LEAVES", sizes[ids[0]] + sizes[ids[1]] - 1)
        by_leaves = TreeCache(size=100)
        for batch_id in ids[:2]:
            by_leaves.anchored(store, batch_id)
            by_leaves.anchored(store, batch_id)  # a second ask is a hit, not a second entry
        assert by_leaves.cached(ids[0]) is None  # the oldest went to make room
        assert by_leaves.cached(ids[1]) is not None
    finally:
        store.close()


def test_bundles_are_anchored_on_chain(api: Api) -> None:
    records = api.stored_records()[:2]
    result = post_verify(api, {"records": records}, who="auditor")
    roots = {item["bundle"]["root"]: item["bundle"]["tree_size"] for item in result["results"]}
    state = api.client.app.state.ledger  # type: ignore[attr-defined]
    with state.gate.hold() as ledger:
        chain: Chain = ledger.chain
        for root, size in roots.items():
            anchored = ledger.registry.anchor_of(bytes.fromhex(root[2:]))
            assert anchored is not None and anchored.tree_size == size
            assert chain.chain_id == result["results"][0]["bundle"]["anchor"]["chain_id"]


def test_leaf_hashes_answer_without_records(api: Api) -> None:
    records = api.stored_records()
    hashes = [hx(record_leaf_hash(r)) for r in records[:3]] + ["0x" + "42" * 32]
    result = post_verify(api, {"leaf_hashes": hashes})
    assert [i["status"] for i in result["results"]] == ["anchored"] * 3 + ["unknown"]
    for item in result["results"][:3]:
        assert "record" not in item["bundle"]
        verify_bundle(ProofBundle.from_json(item["bundle"]))
    assert "bundle" not in result["results"][3]


def test_changed_record_is_a_mismatch_naming_only_the_batch(api: Api) -> None:
    record = api.stored_records()[0]
    stored_salt = record["salt"]
    changed = {**record, "salt": hx(os.urandom(32))}
    result = post_verify(api, {"records": [changed]})
    (item,) = result["results"]
    assert item["status"] == "mismatch"
    assert item["batch_id"] in {b["batch_id"] for b in api.submitted["batches"]}
    assert "bundle" not in item
    assert stored_salt not in json.dumps(result)


def test_unknown_record(api: Api) -> None:
    result = post_verify(api, {"records": [{"record_id": "NEVER-SEEN", "salt": "0x00"}, {}]})
    assert [i["status"] for i in result["results"]] == ["unknown", "unknown"]


def test_pending_batch(api: Api, pending: dict[str, Any]) -> None:
    result = post_verify(api, {"records": [pending]})
    (item,) = result["results"]
    assert item["status"] == "pending" and item["batch_id"] == PENDING_BATCH
    proof = api.client.get(f"/v1/proofs/{item['leaf_hash']}", headers=api.headers("auditor"))
    assert proof.status_code == 409
    assert proof.headers["content-type"] == "application/problem+json"
    batch = api.client.get(f"/v1/batches/{PENDING_BATCH}", headers=api.headers("partner"))
    assert batch.json()["status"] == "pending" and batch.json()["anchor"] is None


def test_proof_record_only_for_own_institution(api: Api) -> None:
    records = api.stored_records()
    own = next(r for r in records if r["reporter_org_code"] == api.institution)
    other = next((r for r in records if r["reporter_org_code"] != api.institution), None)
    path = f"/v1/proofs/{hx(record_leaf_hash(own))}"
    for who, shown in (("auditor", True), ("partner", True), ("other_partner", False)):
        answer = api.client.get(path, headers=api.headers(who))
        assert answer.status_code == 200, answer.text
        bundle = answer.json()
        assert ("record" in bundle) is shown, who
        verify_bundle(ProofBundle.from_json(bundle))
    if other is not None:
        answer = api.client.get(
            f"/v1/proofs/{hx(record_leaf_hash(other))}", headers=api.headers("partner")
        )
        assert "record" not in answer.json()


def test_unknown_proof_is_404(api: Api) -> None:
    answer = api.client.get("/v1/proofs/0x" + "99" * 32, headers=api.headers("partner"))
    assert answer.status_code == 404
    assert answer.json()["code"] == "not-found"


def test_batch_shows_manifest_and_anchor(api: Api) -> None:
    summary = api.submitted["batches"][0]
    answer = api.client.get(f"/v1/batches/{summary['batch_id']}", headers=api.headers("operator"))
    assert answer.status_code == 200
    batch = answer.json()
    assert batch["status"] == "anchored" and batch["root"] == summary["root"]
    assert batch["manifest"]["batch_id"] == summary["batch_id"]
    assert batch["anchor"]["tx_hash"] == summary["tx_hash"]
    assert batch["anchor"]["block_number"] == summary["block_number"]


def test_each_item_gets_its_outcome_inline_and_in_the_threadpool(
    api: Api, pending: dict[str, Any]
) -> None:
    stored = [r for r in api.stored_records() if r["record_id"] != pending["record_id"]]
    changed = {**stored[0], "salt": hx(os.urandom(32))}
    anchored = (stored * INLINE_ITEMS)[: INLINE_ITEMS + 4]  # past the inline size
    records = [*anchored, changed, pending, {"record_id": "NEVER-SEEN"}]
    many = post_verify(api, {"records": records})
    statuses = [item["status"] for item in many["results"]]
    assert statuses == ["anchored"] * (INLINE_ITEMS + 4) + ["mismatch", "pending", "unknown"]
    assert [item["index"] for item in many["results"]] == list(range(len(records)))
    one = post_verify(api, {"records": records[:1]})
    assert one["results"] == many["results"][:1]


def test_a_record_of_an_anchored_batch_costs_one_query(api: Api, pending: dict[str, Any]) -> None:
    record = next(r for r in api.stored_records() if r["record_id"] != pending["record_id"])
    state = api.client.app.state.ledger  # type: ignore[attr-defined]
    statements: list[str] = []

    def seen(*args: Any) -> None:
        # The request's own statements: the anchor sender's thread polls the outbox
        # meanwhile (and may anchor the pending batch of the fixture).
        if threading.current_thread().name != "anchor-sender":
            statements.append(args[2])

    assert post_verify(api, {"records": [record]})["counts"]["anchored"] == 1  # tree cached
    event.listen(state.store.reads, "before_cursor_execute", seen)  # where reads go
    try:
        for _ in range(3):
            assert post_verify(api, {"records": [record]})["counts"]["anchored"] == 1
    finally:
        event.remove(state.store.reads, "before_cursor_execute", seen)
    assert len(statements) == 3, statements
