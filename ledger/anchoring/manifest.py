"""Batch manifests: what a batch is, hashed into its anchor.

The manifest names the batch, its kind, who submitted it, which schema and
desensitisation policy produced its records, which pseudonym keys (by id, never
the key) were used, and the tree it commits to. Its SHA-256 over RFC 8785 bytes
is the ``manifestHash`` of the anchor, so an auditor can check a manifest
against the chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.proofs import canonical_bytes

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
