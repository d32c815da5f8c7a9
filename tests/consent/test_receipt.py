"""The consent receipt: its fields, its rules, its commitment, and no ID number in it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785

from ledger.consent.receipt import build_receipt, commitment, parse_grant, receipt_bytes, window
from ledger.errors import InputError
from tests.consent.conftest import grant_json
from tests.records.sample import ID_NUMBER

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _receipt(**changes: Any) -> dict[str, Any]:
    grant = parse_grant(grant_json(**changes))
    return build_receipt(grant, consent_id="0x" + "01" * 32, pseudonym="0x" + "ab" * 32,
                         key_id="subject-1", now=NOW, salt=b"\x07" * 32)  # fmt: skip


def test_receipt_fields_and_commitment() -> None:
    receipt = _receipt(purposes=["POST_LOAN_MANAGEMENT", "LOAN_APPROVAL", "LOAN_APPROVAL"])
    assert receipt["format"] == "credit-anchor/consent-receipt/v1"
    assert receipt["kantara_version"] == "1.1" and receipt["jurisdiction"] == "CN"
    assert receipt["purposes"] == ["LOAN_APPROVAL", "POST_LOAN_MANAGEMENT"]  # sorted, unique
    assert receipt["subject"] == {"pseudonym": "0x" + "ab" * 32, "key_id": "subject-1"}
    assert receipt["sensitive"] is True and receipt["language"] == "zh-CN"
    assert receipt["salt"] == "0x" + "07" * 32
    assert receipt["consent_timestamp"] == "2026-11-26T08:00:00Z"  # collected_at defaults to now
    assert ID_NUMBER not in json.dumps(receipt)
    data = receipt_bytes(receipt)
    assert data == rfc8785.dumps(receipt)
    assert commitment(data) == "0x" + hashlib.sha256(data).hexdigest()
    assert window(receipt) == (1767225600, 1798761600)


def test_the_salt_makes_equal_consents_unlinkable() -> None:
    grant = parse_grant(grant_json())
    a, b = (build_receipt(grant, consent_id="0x" + "01" * 32, pseudonym="0x" + "ab" * 32,
                          key_id="k", now=NOW) for _ in range(2))  # fmt: skip
    assert commitment(receipt_bytes(a)) != commitment(receipt_bytes(b))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"separate_consent": False}, "separate_consent"),
        ({"separate_consent": False, "sensitive": False}, "another institution"),
        ({"valid_until": "2025-12-31T00:00:00+00:00"}, "valid_until must be after"),
        ({"valid_from": "2026-01-01T00:00:00"}, "time zone"),
        ({"purposes": ["MARKETING"]}, "purposes.0"),
        ({"purposes": []}, "purposes"),
        ({"recipients": ["not an institution!"]}, "recipients.0"),
        ({"evidence": {"method": "e-signature", "document_hash": "0x12"}}, "document_hash"),
        ({"subject": {"id_type": "10", "id_number": ID_NUMBER[:-1]}}, "18 characters"),
        ({"extra": 1}, "extra"),
    ],
)
def test_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_grant(grant_json(**changes))
    assert ID_NUMBER[:-1] not in caught.value.message


def test_sharing_only_with_the_controller_needs_no_separate_consent_when_not_sensitive() -> None:
    parse_grant(grant_json(separate_consent=False, sensitive=False, recipients=["LENDER-1"]))
