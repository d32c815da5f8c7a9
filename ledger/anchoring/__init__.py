"""Anchoring: batch manifests, the crash-safe anchor outbox, and proof bundles out of the store.

A batch is stored with its manifest (:func:`pending_batch`) before any
transaction names it; the :class:`Outbox` sends its anchor exactly once, in this
process (:class:`RegistrySide`) or in a helper process that owns the chain
(:class:`ChainProcess`); :func:`bundle_for` turns an anchored leaf into its
proof bundle. Append-only logs (inquiries, alerts) are sealed into batches by
:func:`seal_entries` when :func:`seal_due`.

The names load on first use (:mod:`ledger._lazy`): the helper process imports
this package before it opens the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
    from ledger.anchoring.bundles import bundle_for, find_leaf
    from ledger.anchoring.chain_process import ChainProcess
    from ledger.anchoring.logseal import SealedLog, seal_due, seal_entries, seal_when_due
    from ledger.anchoring.manifest import (
        MANIFEST_FORMAT,
        build_manifest,
        manifest_differs,
        manifest_hash,
        pending_batch,
    )
    from ledger.anchoring.outbox import BatchAnchor, ChainSide, Outbox, RegistrySide

__all__ = [
    "MANIFEST_FORMAT",
    "BatchAnchor",
    "ChainProcess",
    "ChainSide",
    "Outbox",
    "RegistrySide",
    "SealedLog",
    "build_manifest",
    "bundle_for",
    "find_leaf",
    "manifest_differs",
    "manifest_hash",
    "pending_batch",
    "seal_due",
    "seal_entries",
    "seal_when_due",
]

_MANIFEST, _OUTBOX, _BUNDLES = (
    "ledger.anchoring.manifest", "ledger.anchoring.outbox", "ledger.anchoring.bundles",
)  # fmt: skip
__getattr__ = _lazy.exports(
    __name__,
    {
        "MANIFEST_FORMAT": _MANIFEST,
        "build_manifest": _MANIFEST,
        "manifest_differs": _MANIFEST,
        "manifest_hash": _MANIFEST,
        "pending_batch": _MANIFEST,
        "BatchAnchor": _OUTBOX,
        "ChainSide": _OUTBOX,
        "Outbox": _OUTBOX,
        "RegistrySide": _OUTBOX,
        "ChainProcess": "ledger.anchoring.chain_process",
        "SealedLog": "ledger.anchoring.logseal",
        "seal_due": "ledger.anchoring.logseal",
        "seal_entries": "ledger.anchoring.logseal",
        "seal_when_due": "ledger.anchoring.logseal",
        "bundle_for": _BUNDLES,
        "find_leaf": _BUNDLES,
    },
)
