"""A stored document the audit reads is parsed with its depth bounded (ledger.jsontext)."""

from __future__ import annotations

from ledger.audit.receipts import parsed


def test_a_receipt_nested_too_deep_reads_as_no_receipt() -> None:
    # The auditor trusts only the chain: a store may hold anything. Parsed by json
    # itself, this overflows the recursion limit (or, with py_ecc's 100,000, the stack).
    assert parsed(b"[" * 100_000 + b"]" * 100_000) is None
    assert parsed(b'{"consent_id": "C-1"}') == {"consent_id": "C-1"}
