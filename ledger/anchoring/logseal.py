"""Sealing an append-only log into batches: what the inquiry log and the alert log share.

A log keeps its entries in store rows that say where they were sealed (batch id
and leaf index, None until then). :func:`seal_entries` turns some unsealed
entries into one pending batch in the caller's transaction: each entry's leaf
is ``SHA-256(0x00 || RFC 8785 bytes)`` of its record, the batch's manifest is
stored with it, and the anchor :class:`~ledger.anchoring.outbox.Outbox` then
anchors it exactly once, like a credit-data batch. The caller marks its rows
sealed in the same transaction, so an entry is in exactly one batch, and a
crash before the commit leaves everything unsealed.

:func:`seal_due` is the shared trigger (a size or an age, whichever comes
first) and :func:`seal_when_due` the loop that seals until nothing is due.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ledger.anchoring.manifest import pending_batch
from ledger.proofs import canonical_records, root_of
from ledger.store import leaves

#: One entry to seal: the id the store files its leaf under, and its record.
Entry = tuple[str, dict[str, Any]]


class SealedLog(Protocol):
    """A log :func:`seal_when_due` can seal."""

    def unsealed(self) -> tuple[int, str | None]:
        """How many entries wait for a batch, and when the oldest was logged (ISO 8601)."""
        ...

    def seal(self) -> str | None:
        """Seal the oldest unsealed entries into one pending batch; its id (None: none)."""
        ...


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal_entries(
    s: Session,
    entries: Sequence[Entry],
    *,
    kind: int,
    submitter: str,
    schema: str,
    key_ids: Mapping[str, str],
    first_row: int = 0,
    last_row: int = 0,
) -> str:
    """Store ``entries`` (not empty) as one pending batch of ``kind`` in ``s``'s open
    transaction, leaf ``i`` being entry ``i``; the batch id."""
    datas = canonical_records([record for _, record in entries])
    hashes = [hashlib.sha256(b"\x00" + data).digest() for data in datas]
    batch = pending_batch(
        kind=kind,
        submitter=submitter,
        schema=schema,
        policy="none",
        key_ids=dict(key_ids),
        root=root_of(b"".join(hashes)),
        tree_size=len(hashes),
        first_row=first_row,
        last_row=last_row,
        created_at=now_iso(),
    )
    s.add(batch)
    s.flush()
    leaves.add_batch_leaves(
        s,
        batch.batch_id,
        [key for key, _ in entries],
        b"".join(hashes),
        b"".join(datas),
        list(accumulate(map(len, datas))),
    )
    return batch.batch_id


def seal_due(
    count: int, oldest: str | None, *, now: datetime | None, size: int, seconds: float
) -> bool:
    """Whether ``count`` unsealed entries, the oldest logged at ``oldest``, are due:
    ``size`` of them wait, or the oldest waited ``seconds``."""
    if count == 0:
        return False
    if count >= size:
        return True
    assert oldest is not None
    started = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) - started >= timedelta(seconds=seconds)


def seal_when_due(log: SealedLog, *, force: bool, size: int, seconds: float) -> list[str]:
    """Seal batches while ``log`` is due (or, with ``force``, while anything is unsealed);
    their ids, in order. Anchoring them is the outbox's work."""
    sealed: list[str] = []
    while True:
        count, oldest = log.unsealed()
        if not (force and count) and not seal_due(
            count, oldest, now=None, size=size, seconds=seconds
        ):
            return sealed
        batch_id = log.seal()
        if batch_id is None:
            return sealed
        sealed.append(batch_id)
