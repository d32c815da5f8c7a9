"""The store: SQLAlchemy 2 models and repositories (SQLite by default, any URL)."""

from ledger.store import alerts as alerts  # registers the alert outbox and webhook tables
from ledger.store import leaves as leaves
from ledger.store.accounts import AccountState as AccountState  # registers account_states
from ledger.store.apikeys import ApiKey as ApiKey  # registers the api_keys table on Base
from ledger.store.db import Store
from ledger.store.leaves import LeafRef, StoredLeaf
from ledger.store.models import (
    AnchorTx,
    Batch,
    Consent,
    Erasure,
    Inquiry,
    Rebuild,
    Rejection,
    Submission,
)

__all__ = [
    "AnchorTx",
    "Batch",
    "Consent",
    "Erasure",
    "Inquiry",
    "LeafRef",
    "Rebuild",
    "Rejection",
    "Store",
    "StoredLeaf",
    "Submission",
    "alerts",
    "leaves",
]
