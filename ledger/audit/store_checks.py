"""Cross-checks of the platform's store against the replayed chain state.

Batches and their leaves: every anchored store batch is on chain with the same
root, size, kind and manifest hash; every chain anchor is in the store; every
stored record hashes to its leaf, and the leaves rebuild the anchored root.
An anchor a reorg dropped (and the sender sent again) is reported for the record.
An erased record (its bytes gone, its hash kept) is reported as erased, and as
an error only when no erasure record names its batch.

An id hashed into a document must equal the id the document is kept under: a
manifest names its batch (and its tree), a record names the id the store files
it under (``record_id``, or ``inquiry_id`` in the inquiry log). Otherwise a
document could be replayed under another id and still hash right.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import jsontext
from ledger.anchoring.manifest import manifest_differs, manifest_hash
from ledger.anchoring.outbox import iso_utc
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainAnchor, ChainState, Progress, hx
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import BatchKind
from ledger.errors import LedgerError
from ledger.proofs import root_of
from ledger.store import AnchorTx, Batch, Erasure, Rebuild, Store, Submission, leaves
from ledger.store.alerts import Acknowledgement, Alert, DeliveryAttempt

_HEX32: Final = re.compile(r"0x[0-9a-f]{64}")
#: The member a record names itself by, by batch kind (default ``record_id``).
ID_MEMBER: Final[dict[int, str]] = {
    BatchKind.INQUIRY_LOG: "inquiry_id",
    BatchKind.ALERT_LOG: "entry_id",
}


@dataclass
class InquiryLeaf:
    """An anchored inquiry-log leaf: where it is and what it says (None once erased)."""

    batch_id: str
    leaf_index: int
    record: dict[str, Any] | None


@dataclass
class StoreFacts:
    """What the batch pass learns for the later passes."""

    #: Anchored inquiry leaves by inquiry id ("batch:index" once erased).
    inquiry_leaves: dict[str, InquiryLeaf] = field(default_factory=dict)
    #: The same leaves by (batch id, leaf index).
    inquiry_at: dict[tuple[str, int], InquiryLeaf] = field(default_factory=dict)
    leaf_count: int = 0


def check_batches(
    store: Store,
    state: ChainState,
    registry: AnchorRegistryClient,
    report: AuditReport,
    progress: Progress | None = None,
    *,
    alert_log: AnchorRegistryClient | None = None,
) -> StoreFacts:
    """``alert_log``: the registry of kind 4, when it is not ``registry``."""
    facts = StoreFacts()
    with store.session() as s:
        erased_in = _erasure_batches(s)
        batches = list(s.scalars(select(Batch).order_by(Batch.created_at, Batch.batch_id)))
        for done, batch in enumerate(batches, 1):
            anchor = state.anchors.get(batch.batch_id)
            manifest = _check_manifest(batch, anchor, report)
            if anchor is None:
                at = alert_log if alert_log and batch.kind == BatchKind.ALERT_LOG else registry
                _not_replayed(batch, at, state.next_block - 1, report)
            else:
                _compare_batch(batch, manifest, anchor, report)
                _compare_anchor(batch, anchor, state, report)
                _check_leaves(s, anchor, batch.batch_id in erased_in, report, facts)
            if progress is not None:
                progress("store batches", done, len(batches))
        stored = {b.batch_id for b in batches}
        for batch_id, anchor in state.anchors.items():
            if batch_id not in stored:
                report.add("CHAIN_ANCHOR_NOT_IN_STORE", batch_id=batch_id, expected=anchor.root)
        _duplicate_records(s, report)
        _reorged(s, state, report)
    report.checked["store_batches"] = len(batches)
    report.checked["store_leaves"] = facts.leaf_count
    return facts


def _reorged(s: Session, state: ChainState, report: AuditReport) -> None:
    """Every anchor the sender saw a reorg drop, beside the batch's anchor on chain now."""
    dropped = s.scalars(
        select(AnchorTx).where(AnchorTx.dropped_at.is_not(None)).order_by(AnchorTx.id)
    )
    count = 0
    for tx in dropped:
        count += 1
        now = state.anchors.get(tx.batch_id)
        report.add(
            "ANCHOR_REORGED",
            batch_id=tx.batch_id,
            expected=None if now is None else f"{now.tx_hash}@{now.block_number}",
            found=f"{tx.tx_hash}@{tx.block_number}",
        )
    report.checked["reorged_anchors"] = count


def _erasure_batches(s: Session) -> set[str]:
    named: set[str] = set()
    for text in s.scalars(select(Erasure.batches)):
        named.update(jsontext.loads(text))
    return named


def _not_replayed(
    batch: Batch, registry: AnchorRegistryClient, block: int, report: AuditReport
) -> None:
    """A store batch no replayed event anchors: not on chain, or its event was hidden."""
    fn = registry.contract.functions.anchorByBatch(bytes.fromhex(batch.batch_id[2:]))
    _, tree_size, *_ = registry.chain.call(fn, block)  # as far as replayed
    if tree_size:
        report.add(
            "CHAIN_EVENT_HIDDEN", batch_id=batch.batch_id, expected="BatchAnchored", found=None
        )
    elif batch.status == "anchored":
        report.add("STORE_BATCH_NOT_ON_CHAIN", batch_id=batch.batch_id, expected=batch.root)


def _check_manifest(batch: Batch, anchor: ChainAnchor | None, report: AuditReport) -> Any:
    """The manifest names this batch id and its anchored (or, unanchored, stored) tree.

    Returns the parsed manifest (None when it is not JSON).
    """
    try:
        manifest = jsontext.loads(batch.manifest)
    except ValueError:
        return None
    if not isinstance(manifest, dict):
        return manifest
    where = {"batch_id": batch.batch_id}
    differs = manifest_differs(manifest, batch if anchor is None else anchor)
    if "batch_id" in differs:
        named = manifest.get("batch_id")
        found = named if isinstance(named, str) and _HEX32.fullmatch(named) else "not a batch id"
        report.add("STORE_MANIFEST_ID_MISMATCH", **where, expected=batch.batch_id, found=found)
        differs.remove("batch_id")
    if differs:
        report.add(
            "STORE_MANIFEST_TREE_MISMATCH",
            **where,
            expected="as its row" if anchor is None else "as anchored",
            found="differs: " + ",".join(differs),
        )
    return manifest


def _compare_batch(batch: Batch, manifest: Any, anchor: ChainAnchor, report: AuditReport) -> None:
    where = {"batch_id": batch.batch_id}
    if batch.status != "anchored":
        report.add("STORE_BATCH_PENDING", **where, expected="anchored", found=batch.status)
    if batch.root != anchor.root:
        report.add("STORE_ROOT_MISMATCH", **where, expected=anchor.root, found=batch.root)
    if batch.tree_size != anchor.tree_size:
        report.add("STORE_SIZE_MISMATCH", **where, expected=anchor.tree_size, found=batch.tree_size)
    if batch.kind != anchor.kind:
        report.add("STORE_KIND_MISMATCH", **where, expected=anchor.kind, found=batch.kind)
    try:
        hashed = "unreadable" if manifest is None else hx(manifest_hash(manifest))
    except LedgerError:
        hashed = "unreadable"
    if hashed != anchor.manifest_hash or batch.manifest_hash != anchor.manifest_hash:
        report.add("STORE_MANIFEST_MISMATCH", **where, expected=anchor.manifest_hash, found=hashed)


def _compare_anchor(
    batch: Batch, anchor: ChainAnchor, state: ChainState, report: AuditReport
) -> None:
    """Where and when the store says an anchored batch was anchored is where the chain has it.

    Its bundles state these, and the alert window starts at the block time.
    """
    if batch.status != "anchored":
        return  # STORE_BATCH_PENDING: the store claims no anchor yet
    on_chain = {
        "chain_id": state.chain_id,
        "registry": state.registry_of(anchor),
        "tx_hash": anchor.tx_hash,
        "block_number": anchor.block_number,
        "block_timestamp": iso_utc(anchor.block_timestamp) if anchor.block_timestamp else None,
    }
    stored = {
        "chain_id": batch.chain_id,
        "registry": batch.registry_address,
        "tx_hash": batch.tx_hash,
        "block_number": batch.block_number,
        "block_timestamp": batch.block_timestamp,
    }
    for name, expected in on_chain.items():
        if expected is not None and stored[name] != expected:
            report.add(
                "STORE_ANCHOR_MISMATCH",
                batch_id=batch.batch_id,
                expected=f"{name} {expected}",
                found=f"{name} {stored[name]}",
            )


def _check_leaves(
    s: Session, anchor: ChainAnchor, erasure_named: bool, report: AuditReport, facts: StoreFacts
) -> None:
    """Each record hashes to its leaf and names the id it is filed under; indices
    0..size-1 all there; the root rebuilds."""
    batch_id, size = anchor.batch_id, anchor.tree_size
    member = ID_MEMBER.get(anchor.kind, "record_id")
    rows = list(leaves.batch_records(s, batch_id))
    if anchor.kind != BatchKind.INQUIRY_LOG and _intact(rows, size, member):
        facts.leaf_count += size
        _check_root([leaf_hash for _, leaf_hash, _, _ in rows], anchor, report)
        return
    hashes: list[bytes] = []
    missing = 0
    for index, leaf_hash, record_id, canonical in rows:
        if index >= size:
            report.add("LEAF_EXTRA", batch_id=batch_id, leaf_index=index, expected=size)
            continue
        for gap in range(len(hashes) + missing, index):
            report.add("LEAF_MISSING", batch_id=batch_id, leaf_index=gap)
            missing += 1
        hashes.append(leaf_hash)
        facts.leaf_count += 1
        if canonical is None:
            code = "LEAF_ERASED" if erasure_named else "LEAF_ERASED_UNRECORDED"
            report.add(code, batch_id=batch_id, leaf_index=index, expected=hx(leaf_hash))
        else:
            _check_record(batch_id, index, leaf_hash, record_id, canonical, member, report)
        if anchor.kind == BatchKind.INQUIRY_LOG:
            _inquiry_leaf(batch_id, index, canonical, facts)
    for gap in range(len(hashes) + missing, size):
        report.add("LEAF_MISSING", batch_id=batch_id, leaf_index=gap)
        missing += 1
    if not missing and len(hashes) == size:
        _check_root(hashes, anchor, report)


def _check_record(
    batch_id: str,
    index: int,
    leaf_hash: bytes,
    record_id: str | None,
    canonical: bytes,
    member: str,
    report: AuditReport,
) -> None:
    """A stored record hashes to its leaf and names the id the store files it under."""
    where = {"batch_id": batch_id, "leaf_index": index}
    if (computed := hashlib.sha256(b"\x00" + canonical).digest()) != leaf_hash:
        report.add("LEAF_RECORD_MISMATCH", **where, expected=hx(leaf_hash), found=hx(computed))
    if not names(canonical, member, record_id):
        # Neither id is reported: a record id may be meaningful (a report number).
        found = "another id" if record_id is not None else "none"
        report.add("LEAF_RECORD_ID_MISMATCH", **where, expected=member, found=found)


Row = tuple[int, bytes, str | None, bytes | None]


def _intact(rows: list[Row], size: int, member: str) -> bool:
    """Leaves 0..size-1, in order, every record there, hashing to its leaf and naming the
    id it is filed under: the loop above would find nothing but the root to check (most
    batches; a third of the time)."""
    if len(rows) != size or [index for index, _, _, _ in rows] != list(range(size)):
        return False
    return all(
        canonical is not None
        and hashlib.sha256(b"\x00" + canonical).digest() == leaf_hash
        and names(canonical, member, record_id)
        for _, leaf_hash, record_id, canonical in rows
    )


def names(canonical: bytes, member: str, filed_as: str | None) -> bool:
    """Whether the record's own top-level ``member`` equals ``filed_as``, the id the
    store files it under (None: it names none, or is not a JSON object).

    Parsed, not searched for: a stored record is nested (funders), so the bytes
    ``"record_id":"..."`` may be any member's; orjson reads a 1 KB record in ~8 us.
    """
    try:
        record = orjson.loads(canonical)
    except orjson.JSONDecodeError:
        return filed_as is None
    own = record.get(member) if isinstance(record, dict) else None
    return bool(own == filed_as)


def _check_root(hashes: list[bytes], anchor: ChainAnchor, report: AuditReport) -> None:
    rebuilt = hx(root_of(b"".join(hashes)))
    if rebuilt != anchor.root:
        report.add(
            "LEAF_TREE_MISMATCH", batch_id=anchor.batch_id, expected=anchor.root, found=rebuilt
        )


def _inquiry_leaf(batch_id: str, index: int, canonical: bytes | None, facts: StoreFacts) -> None:
    record = None if canonical is None else jsontext.loads(canonical)
    key = f"{batch_id}:{index}" if record is None else str(record.get("inquiry_id"))
    leaf = InquiryLeaf(batch_id, index, record)
    facts.inquiry_leaves[key] = leaf
    facts.inquiry_at[(batch_id, index)] = leaf


def _duplicate_records(s: Session, report: AuditReport) -> None:
    """Record ids stored in more than one leaf (a record submitted twice)."""
    for refs in leaves.duplicate_record_ids(s).values():
        first, second = sorted(refs, key=lambda r: (r.batch_id, r.leaf_index))[:2]
        # The record id is not reported (it may be meaningful); its leaves are.
        report.add(
            "RECORD_DUPLICATE_IN_STORE",
            batch_id=second.batch_id,
            leaf_index=second.leaf_index,
            expected=f"{first.batch_id}:{first.leaf_index}",
            found=len(refs),
        )


def rebuild_claim(store: Store, state: ChainState, report: AuditReport) -> bool:
    """Whether the store is an audit's rebuild (``ledger audit --rebuild``) of this chain.

    Such a store holds only what the chain and a verified export prove, and its audit
    says so (``report.chain["rebuilt"]``). The claim is one row anyone with the database
    could add, so it holds only if the store has nothing a rebuild never writes: a
    submission, or an alert-log row not sealed into an anchored batch. Otherwise it is
    ``STORE_REBUILD_CLAIM_FALSE`` and the store is judged as the platform's.
    """
    with store.session() as s:
        claim = s.scalars(select(Rebuild)).first()
        if claim is None:
            return False
        unsealed = sum(
            s.scalar(select(func.count()).select_from(table).where(table.log_batch_id.is_(None)))
            or 0
            for table in (Alert, DeliveryAttempt, Acknowledgement)
        )
        submissions = s.scalar(select(func.count()).select_from(Submission)) or 0
    if claim.chain_id != state.chain_id or unsealed or submissions:
        report.add(
            "STORE_REBUILD_CLAIM_FALSE",
            expected=f"a rebuild of chain {state.chain_id}: no submission, every alert sealed",
            found=f"chain {claim.chain_id}, {submissions} submissions, {unsealed} unsealed",
        )
        return False
    report.chain["rebuilt"] = {"to_block": claim.to_block, "rebuilt_at": claim.rebuilt_at}
    return True
