"""CreditAnchor: a blockchain-anchored ledger for desensitised consumer-credit data.

The public surface is small: :mod:`ledger.errors`, :mod:`ledger.proofs`,
:mod:`ledger.chain` and :mod:`ledger.config`. Modules whose names start with an
underscore are plumbing and may change without notice.
"""

#: The release, in this one place: pyproject.toml, `ledger --version`, /healthz and the
#: OpenAPI document read it. CHANGELOG.md says what each release changed.
__version__ = "0.3.0"
