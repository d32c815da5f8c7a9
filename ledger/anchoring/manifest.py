"""Batch manifests: what a batch is, hashed into its anchor.

The manifest names the batch, its kind, who submitted it, which schema and
desensitisation policy produced its records, which pseudonym keys (by id, never
the key) were used, and the tree it commits to. Its SHA-256 over RFC 8785 bytes
is the ``manifestHash`` of the anchor, so an auditor can check a manifest
against the chain.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Final

from ledger.proofs import canonical_bytes
from ledger.store import Batch

MANIFEST_FORMAT = "credit-anchor/manifest/v1"


def build_manifest(
    *,
    batch_id: str,
    kind: int,
    submitter: str,
    schema: str,
    policy: str,
    key_ids: dict[str, str],
    tree_size: int,
    root: str,
    created_at: str,
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "batch_id": batch_id,
        "kind": kind,
        "submitter": submitter,
        "schema": schema,
        "policy": policy,
        "key_ids": dict(sorted(key_ids.items())),
        "tree_size": tree_size,
        "root": root,
        "created_at": created_at,
    }


def manifest_hash(manifest: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_bytes(manifest)).digest()


#: The members that say which batch and tree a manifest is of. The batch id is also
#: the key it is stored and anchored under, the rest are also in its row and anchor:
#: a manifest that hashes right but names another batch is another's, replayed.
IDENTITY: Final = ("batch_id", "kind", "root", "tree_size")


def manifest_differs(manifest: Any, batch: Any) -> list[str]:
    """The :data:`IDENTITY` members of ``manifest`` that differ from ``batch``'s (a
    :class:`~ledger.store.Batch` or an anchor: anything with those attributes)."""
    if not isinstance(manifest, dict):
        return list(IDENTITY)
    return [name for name in IDENTITY if manifest.get(name) != getattr(batch, name)]


def pending_batch(
    *,
    kind: int,
    submitter: str,
    schema: str,
    policy: str,
    key_ids: dict[str, str],
    root: bytes,
    tree_size: int,
    first_row: int,
    last_row: int,
    created_at: str,
    submission_id: str | None = None,
) -> Batch:
    """A new outbox row: a random batch id, its manifest and manifest hash, ``pending``.

    The id is random and stored before any transaction names it: unique across
    platforms sharing a registry, and a re-run never reuses the id of an
    uncommitted batch.
    """
    batch_id = "0x" + os.urandom(32).hex()
    manifest = build_manifest(
        batch_id=batch_id,
        kind=kind,
        submitter=submitter,
        schema=schema,
        policy=policy,
        key_ids=key_ids,
        tree_size=tree_size,
        root="0x" + root.hex(),
        created_at=created_at,
    )
    return Batch(
        batch_id=batch_id,
        submission_id=submission_id,
        kind=kind,
        tree_size=tree_size,
        root="0x" + root.hex(),
        manifest=canonical_bytes(manifest).decode(),
        manifest_hash="0x" + manifest_hash(manifest).hex(),
        first_row=first_row,
        last_row=last_row,
        status="pending",
        created_at=created_at,
    )
