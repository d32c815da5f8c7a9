"""Consents, checks, the inquiry log and erasure over HTTP, against the real app and chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.consent_models import CheckOut
from tests.api.conftest import Api
from tests.consent.conftest import grant_json
from tests.records.sample import ID_NUMBER

SUBJECT = {"id_type": "10", "id_number": ID_NUMBER}


def _grant(api: Api, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    body = grant_json(
        recipients=[api.institution],
        controller={"name": "Example Lending Co.", "institution": api.institution},
        valid_from=(now - timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=30)).isoformat(),
    )
    body.update(changes)
    answer = api.client.post("/v1/consents", json=body, headers=api.headers("operator"))
    assert answer.status_code == 201, answer.text
    (consent,) = answer.json()["consents"]
    return dict(consent)


def _check(api: Api, who: str = "partner", purpose: str = "LOAN_APPROVAL") -> Any:
    answer = api.client.post(
        "/v1/consents/check",
        json={"subject": SUBJECT, "purpose": purpose},
        headers=api.headers(who),
    )
    if answer.status_code == 200:  # served without re-validation: it must match its model
        CheckOut.model_validate(answer.json())
    return answer


def test_record_check_revoke_and_the_inquiry_log(api: Api) -> None:
    consent = _grant(api)
    assert consent["status"] == "recorded" and consent["on_chain"]["block_number"] > 0
    assert ID_NUMBER not in str(consent)

    granted = _check(api)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert body["granted"] and body["consent_id"] == consent["consent_id"]
    assert body["on_chain"]["tx_hash"] == consent["on_chain"]["tx_hash"]
    assert body["institution"] == api.institution
    assert ID_NUMBER not in granted.text

    other = _check(api, "other_partner").json()
    assert (other["granted"], other["reason"], other["consent_id"]) == (False, "no_consent", None)
    assert _check(api, purpose="CREDIT_CARD_APPROVAL").json()["reason"] == "purpose_not_covered"

    revoked = api.client.post(
        f"/v1/consents/{consent['consent_id']}/revoke", headers=api.headers("operator")
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revocation_status"] == "recorded"
    after = _check(api).json()
    assert (after["granted"], after["reason"]) == (False, "revoked")

    shown = api.client.get(f"/v1/consents/{consent['consent_id']}", headers=api.headers("auditor"))
    assert shown.status_code == 200
    assert shown.json()["chain_status"]["revoked_at"] is not None

    # the log: auditors see every check, a partner only its own
    everything = api.client.get("/v1/inquiries", headers=api.headers("auditor")).json()
    own = api.client.get("/v1/inquiries", headers=api.headers("partner")).json()
    theirs = api.client.get("/v1/inquiries", headers=api.headers("other_partner")).json()
    ids = {i["inquiry_id"] for i in everything["inquiries"]}
    assert {body["inquiry_id"], other["inquiry_id"], after["inquiry_id"]} <= ids
    assert {i["institution"] for i in own["inquiries"]} == {api.institution}
    assert {i["inquiry_id"] for i in theirs["inquiries"]} == {other["inquiry_id"]}


def test_inquiry_pages(api: Api) -> None:
    for _ in range(3):
        _check(api)
    first = api.client.get("/v1/inquiries?limit=2", headers=api.headers("auditor")).json()
    assert len(first["inquiries"]) == 2 and first["next"] is not None
    rest = api.client.get(
        f"/v1/inquiries?limit=1000&after={first['next']}", headers=api.headers("auditor")
    ).json()
    seen = [i["inquiry_id"] for i in first["inquiries"] + rest["inquiries"]]
    assert len(seen) == len(set(seen)) and rest["next"] is None


def test_batch_of_consents_and_bad_input(api: Api) -> None:
    good = grant_json(recipients=[api.institution])
    answer = api.client.post(
        "/v1/consents", json={"consents": [good, good]}, headers=api.headers("operator")
    )
    assert answer.status_code == 201, answer.text
    ids = [c["consent_id"] for c in answer.json()["consents"]]
    assert len(set(ids)) == 2
    blocks = {c["on_chain"]["block_number"] for c in answer.json()["consents"]}
    assert len(blocks) == 1  # one transaction recorded both

    bad_id = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    bad = grant_json(subject={"id_type": "10", "id_number": bad_id})
    answer = api.client.post("/v1/consents", json=bad, headers=api.headers("operator"))
    assert answer.status_code == 422
    assert bad_id not in answer.text and "check digit" in answer.text
    answer = api.client.post(
        "/v1/consents/check",
        json={"subject": {"id_type": "10", "id_number": bad_id}, "purpose": "LOAN_APPROVAL"},
        headers=api.headers("partner"),
    )
    assert answer.status_code == 422 and bad_id not in answer.text
    unknown = api.client.post(
        "/v1/consents/check",
        json={"subject": SUBJECT, "purpose": "MARKETING"},
        headers=api.headers("partner"),
    )
    assert unknown.status_code == 422
    missing = api.client.post(
        "/v1/consents/" + "0x" + "00" * 32 + "/revoke", headers=api.headers("operator")
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not-found"


def test_erasure_over_http(api: Api) -> None:
    records = api.stored_records()
    target = records[0]
    subject_pseudonym = target["subject_pseudonym"]
    # the raw row of that record: the API fixture submitted synthetic rows with seed 41
    from tests.api.conftest import ROWS, raw_rows

    raw = next(r for r in raw_rows(ROWS, seed=41) if r["report_id"] == target["record_id"])
    who = {"id_type": raw["subject_id_type"], "id_number": raw["subject_id_number"]}
    answer = api.client.post("/v1/erasures", json={"subject": who}, headers=api.headers("operator"))
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["records"] >= 1 and subject_pseudonym not in answer.text
    assert str(raw["subject_id_number"]) not in answer.text
    leaf_hash = _leaf_hash(target)
    gone = api.client.get(f"/v1/proofs/{leaf_hash}", headers=api.headers("auditor"))
    assert gone.status_code == 410 and gone.json()["code"] == "erased"
    for body in ({"records": [target]}, {"leaf_hashes": [leaf_hash]}):
        answer = api.client.post("/v1/verify", json=body, headers=api.headers("auditor"))
        assert answer.status_code == 200, answer.text
        (item,) = answer.json()["results"]
        assert item["status"] == "erased" and "bundle" not in item and item["batch_id"]
        assert answer.json()["counts"]["erased"] == 1
        assert subject_pseudonym not in answer.text
    others = [r for r in records if r["subject_pseudonym"] != subject_pseudonym]
    answer = api.client.post(
        "/v1/verify", json={"records": others}, headers=api.headers("auditor")
    ).json()
    assert answer["counts"]["anchored"] == len(others)  # the rest of the batch still proves
    again = api.client.post("/v1/erasures", json={"subject": who}, headers=api.headers("operator"))
    assert again.status_code == 404


def _leaf_hash(record: dict[str, Any]) -> str:
    from ledger.proofs import record_leaf_hash

    return "0x" + record_leaf_hash(record).hex()
