"""The auditor's own index: the replayed chain state written into a fresh, empty store.

Nothing is taken from the platform's store on trust. Batches and consents come
from the chain; a manifest or a receipt is copied from the platform only when it
hashes to what the chain holds and is that batch's or consent's own: a manifest
names its batch id and anchored tree, a receipt its consent id and on-chain
window (another's, replayed under this id, hashes just as well). Leaves (and the
inquiries of the inquiry log, and the alert log's rows: :mod:`ledger.audit.rebuild_alerts`)
come only from exported records that passed every check, each filed under the id
the record itself names. A :class:`~ledger.store.Rebuild` row says the store is a
rebuild, so that its own audit knows it holds nothing the chain does not prove.
Auditing the platform against this store, or this store against the chain, needs
no platform server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select

from ledger import jsontext
from ledger.anchoring.manifest import manifest_differs
from ledger.anchoring.outbox import iso_utc
from ledger.audit.rebuild_alerts import AlertLogRebuild, is_entry
from ledger.audit.receipts import parsed
from ledger.audit.records import ExportedLeaf
from ledger.audit.replay import ChainAnchor, ChainConsent, ChainState
from ledger.audit.store_checks import ID_MEMBER
from ledger.chain.types import BatchKind
from ledger.consent.inquiries import INQUIRY_FORMAT
from ledger.consent.receipt import receipt_ids, window
from ledger.errors import ConflictError
from ledger.proofs import canonical_bytes
from ledger.store import Batch, Consent, Inquiry, Rebuild, Store, StoredLeaf, leaves

#: Leaves written per store transaction.
FLUSH_EVERY: Final = 5000
UNKNOWN: Final = ""  # a column the chain does not hold and the platform was not trusted for


class Rebuilder:
    """Writes one audit's chain state (and verified records) into ``store``."""

    def __init__(self, store: Store, state: ChainState) -> None:
        with store.session() as s:
            if s.scalar(select(func.count()).select_from(Batch)):
                raise ConflictError("the store to rebuild into is not empty")
        self.store = store
        self.state = state
        self._leaves: dict[str, dict[int, StoredLeaf]] = {}
        self._inquiries: list[Inquiry] = []
        self._inquiry_ids: set[str] = set()  # one row per inquiry id (the column is unique)
        self._pending = 0
        self._alert_log = AlertLogRebuild()
        self._platform: Store | None = None
        self.leaf_count = 0

    def write_chain(self, platform: Store | None) -> None:
        """Batches and consents from the chain, with what of the platform's hashes right."""
        manifests: dict[str, str] = {}
        receipts: dict[str, Consent] = {}
        self._platform = platform  # alert bodies are looked up when the log is written
        if platform is not None:
            with platform.session() as s:
                rows = s.execute(select(Batch.batch_id, Batch.manifest))
                manifests = {batch_id: manifest for batch_id, manifest in rows}
                receipts = {c.consent_id: c for c in s.scalars(select(Consent))}
        with self.store.session() as s, s.begin():
            s.add_all(self._batch(a.batch_id, manifests) for a in self.state.anchors.values())
            s.add_all(self._consent(cid, receipts) for cid in self.state.consents)
            s.add(
                Rebuild(
                    chain_id=self.state.chain_id,
                    to_block=self.state.next_block - 1,
                    log_head=self.state.log_head,
                    rebuilt_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            )

    def _batch(self, batch_id: str, manifests: Mapping[str, str]) -> Batch:
        anchor = self.state.anchors[batch_id]
        manifest = manifests.get(batch_id, UNKNOWN)
        if not _own_manifest(manifest, anchor):
            manifest = UNKNOWN
        # A manifest that hashes to its anchor proves when the batch was made.
        made = jsontext.loads(manifest).get("created_at") if manifest else None
        return Batch(
            batch_id=batch_id,
            kind=anchor.kind,
            tree_size=anchor.tree_size,
            root=anchor.root,
            manifest=manifest,
            manifest_hash=anchor.manifest_hash,
            status="anchored",
            created_at=made if isinstance(made, str) else UNKNOWN,
            chain_id=self.state.chain_id,
            registry_address=self.state.registry_of(anchor),
            tx_hash=anchor.tx_hash,
            block_number=anchor.block_number,
            # As the platform writes it (its block's header), in the same form.
            block_timestamp=iso_utc(anchor.block_timestamp) if anchor.block_timestamp else None,
            seq=anchor.seq,
        )

    def _consent(self, consent_id: str, platform: Mapping[str, Consent]) -> Consent:
        on_chain = self.state.consents[consent_id]
        theirs = platform.get(consent_id)
        receipt = None if theirs is None else theirs.receipt
        if receipt is not None and not _own_receipt(receipt, on_chain):
            receipt = None
        pseudonym = None if receipt is None else receipt_ids(jsontext.loads(receipt))[1]
        return Consent(
            consent_id=consent_id,
            subject_pseudonym=pseudonym,
            receipt=receipt,
            commitment=on_chain.commitment,
            valid_from=on_chain.valid_from,
            valid_until=on_chain.valid_until,
            created_at=UNKNOWN,
            status="recorded",
            chain_id=self.state.chain_id,
            registry_address=self.state.consent_registry,
            block_number=on_chain.block_number,
            revoked_at=on_chain.revoked_at or None,
            revoke_status="recorded" if on_chain.revoked_at else None,
            erased_at=theirs.erased_at if theirs is not None and receipt is None else None,
        )

    def add(self, item: ExportedLeaf) -> None:
        """A verified exported record (the sink of the records check)."""
        record, record_id = item.record, None
        kind = self.state.anchors[item.batch_id].kind
        if record is not None:
            # Filed under the id the record itself names, as the audit holds the store to.
            own = record.get(ID_MEMBER.get(kind, "record_id"))
            record_id = own if isinstance(own, str) else None
            # An inquiry row needs an id of its own, and only one row has it.
            new_id = record_id is not None and record_id not in self._inquiry_ids
            if record.get("format") == INQUIRY_FORMAT and new_id:
                self._inquiries.append(_inquiry(record, item.batch_id, item.leaf_index))
                self._inquiry_ids.add(str(record_id))
            if kind == BatchKind.ALERT_LOG and is_entry(record):
                self._alert_log.add(item.batch_id, item.leaf_index, record)
        leaf = StoredLeaf(
            item.batch_id,
            item.leaf_index,
            record_id,
            item.leaf_hash,
            None if record is None else canonical_bytes(record),
        )
        self._leaves.setdefault(item.batch_id, {})[item.leaf_index] = leaf
        self.leaf_count += 1
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write what was added; a batch written before gets these leaves merged in."""
        if not (self._leaves or self._inquiries):
            return
        with self.store.session() as s, s.begin():
            for batch_id, added in self._leaves.items():
                earlier = {x.leaf_index: x for x in leaves.batch_leaves(s, batch_id)}
                if earlier:
                    leaves.delete_batch_leaves(s, batch_id)
                leaves.add_leaves(s, batch_id, [*(earlier | added).values()])
            s.add_all(self._inquiries)
        self._leaves, self._inquiries, self._pending = {}, [], 0

    def finish(self) -> int:
        """Write what is left, then the alert log's rows (they need every alert first);
        how many of those were restored."""
        self.flush()
        seqs = {a.batch_id: a.seq for a in self.state.anchors.values()}
        with self.store.session() as s, s.begin():
            self._alert_log.write(s, self._platform, seqs)
        return self._alert_log.restored


def _own_manifest(manifest: str, anchor: ChainAnchor) -> bool:
    """It hashes to the anchored manifest hash and names this batch and its tree."""
    if "0x" + hashlib.sha256(manifest.encode()).hexdigest() != anchor.manifest_hash:
        return False
    try:
        data = jsontext.loads(manifest)
    except ValueError:  # what was anchored is no manifest
        return False
    return not manifest_differs(data, anchor)


def _own_receipt(receipt: bytes, on_chain: ChainConsent) -> bool:
    """It hashes to the recorded commitment and names this consent id and window."""
    if "0x" + hashlib.sha256(receipt).hexdigest() != on_chain.commitment:
        return False
    data = parsed(receipt)
    try:
        own_window = None if data is None else window(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return (
        data is not None
        and receipt_ids(data)[0] == on_chain.consent_id
        and isinstance(receipt_ids(data)[1], str)
        and own_window == (on_chain.valid_from, on_chain.valid_until)
    )


def _inquiry(record: Mapping[str, object], batch_id: str, index: int) -> Inquiry:
    def text(name: str) -> str:
        return str(record.get(name) or "")

    return Inquiry(
        inquiry_id=text("inquiry_id"),
        institution=text("institution"),
        requested_by=UNKNOWN,
        subject_pseudonym=record.get("subject_pseudonym") or None,
        purpose=text("purpose"),
        consent_id=record.get("consent_id") or None,
        result=text("result"),
        reason=text("reason"),
        checked_at=text("checked_at"),
        logged_at=UNKNOWN,
        batch_id=batch_id,
        leaf_index=index,
    )
