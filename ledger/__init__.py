"""CreditAnchor: a blockchain-anchored ledger for desensitised consumer-credit data.

The public surface is small: :mod:`ledger.errors`, :mod:`ledger.proofs`,
:mod:`ledger.chain` and :mod:`ledger.config`. Modules whose names start with an
underscore are plumbing and may change without notice.
"""

__version__ = "0.1.0"
