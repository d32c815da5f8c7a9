"""The store: SQLAlchemy 2 models and repositories (SQLite by default, any URL)."""

from ledger.store.apikeys import ApiKey as ApiKey  # registers the api_keys table on Base
from ledger.store.db import Store
from ledger.store.models import Batch, Consent, Erasure, Inquiry, Leaf, Rejection, Submission

__all__ = [
    "Batch",
    "Consent",
    "Erasure",
    "Inquiry",
    "Leaf",
    "Rejection",
    "Store",
    "Submission",
]
