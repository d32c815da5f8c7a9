"""``/v1/alerts``: a bank pulls its own alerts, sees nobody else's, and acknowledges them."""

from __future__ import annotations

from typing import Any

import pytest

from api.alert_models import BODY_MODELS, AckResult, AlertDetail, AlertPage
from tests._alert_book import BANK_A, BANK_B
from tests.api.conftest import AlertApi

UNKNOWN = "msg_" + "0" * 32


def _ids(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["id"] for a in alerts]


def test_a_bank_lists_its_own_alerts_oldest_first_in_pages(alert_api: AlertApi) -> None:
    mine = alert_api.alerts("a")
    assert {a["institution"] for a in mine} == {BANK_A}
    seqs = [a["seq"] for a in mine]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    types = [a["type"] for a in mine]
    # two loans of its own: each entered, then rolled; its book crossed thresholds
    assert types.count("overdue.entered") == 2 and types.count("overdue.bucket_rolled") == 2
    assert "portfolio.threshold_breached" in types and "plan.level_changed" in types
    for alert in mine:
        assert alert["body"]["type"] == alert["type"]
        assert alert["delivery"] is None  # no webhook: it pulls
    # A page ends where the next starts; an empty page keeps the cursor.
    last = alert_api.client.get(
        "/v1/alerts", params={"after": seqs[-1]}, headers=alert_api.headers("a")
    ).json()
    assert last == {"alerts": [], "next": seqs[-1], "more": False}


def test_every_alert_matches_its_documented_models(alert_api: AlertApi) -> None:
    """The response models and each type's webhook body model describe what real
    submissions derive (a payload change without its documentation fails here)."""
    answer = alert_api.client.get("/v1/alerts", headers=alert_api.headers("operator"))
    AlertPage.model_validate(answer.json())
    seen = set()
    for alert in answer.json()["alerts"]:
        BODY_MODELS[alert["type"]].model_validate(alert["body"])
        seen.add(alert["type"])
    assert {"overdue.entered", "overdue.bucket_rolled", "plan.level_changed"} <= seen


def test_a_bank_never_sees_another_banks_alert(alert_api: AlertApi) -> None:
    a_ids, b_ids = set(_ids(alert_api.alerts("a"))), set(_ids(alert_api.alerts("b")))
    assert a_ids and b_ids and not a_ids & b_ids
    assert alert_api.alerts("c") == []  # funds nothing: receives nothing
    theirs = _ids(alert_api.alerts("b"))[0]  # not the one the ack test acknowledges
    answers = {}
    for alert_id in (theirs, UNKNOWN):
        shown = alert_api.client.get(f"/v1/alerts/{alert_id}", headers=alert_api.headers("a"))
        acked = alert_api.client.post(f"/v1/alerts/{alert_id}/ack", headers=alert_api.headers("a"))
        for answer in (shown, acked):
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
        answers[alert_id] = shown.json()["detail"].replace(alert_id, "ID")
    assert answers[theirs] == answers[UNKNOWN]  # nothing tells A that B's alert exists
    b_view = alert_api.client.get(f"/v1/alerts/{theirs}", headers=alert_api.headers("b"))
    assert b_view.json()["ack"] is None  # A's attempt to acknowledge it did nothing
    refused = alert_api.client.get(
        "/v1/alerts", params={"institution": BANK_B}, headers=alert_api.headers("a")
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_operator_and_auditor_read_every_bank_or_one(alert_api: AlertApi) -> None:
    a_ids, b_ids = set(_ids(alert_api.alerts("a"))), set(_ids(alert_api.alerts("b")))
    for who in ("operator", "auditor"):
        assert set(_ids(alert_api.alerts(who))) == a_ids | b_ids
        assert set(_ids(alert_api.alerts(who, institution=BANK_B))) == b_ids
        one = sorted(a_ids)[0]
        shown = alert_api.client.get(f"/v1/alerts/{one}", headers=alert_api.headers(who))
        assert shown.status_code == 200 and shown.json()["institution"] == BANK_A
        acked = alert_api.client.post(f"/v1/alerts/{one}/ack", headers=alert_api.headers(who))
        assert acked.status_code == 403  # only the bank acknowledges its alert


def test_ack_is_idempotent_and_shows_in_the_alert(alert_api: AlertApi) -> None:
    alert_id = _ids(alert_api.alerts("b"))[-1]
    url = f"/v1/alerts/{alert_id}/ack"
    body = {"by": "risk-desk", "note": "collection call booked"}
    first = alert_api.client.post(url, json=body, headers=alert_api.headers("b"))
    assert first.status_code == 200, first.text
    again = alert_api.client.post(
        url, json={"by": "someone-else", "note": "later"}, headers=alert_api.headers("b")
    )
    assert again.status_code == 200
    assert first.json()["first"] is True and again.json()["first"] is False
    kept = {k: v for k, v in first.json().items() if k != "first"}
    assert {k: v for k, v in again.json().items() if k != "first"} == kept
    AckResult.model_validate(again.json())
    shown = alert_api.client.get(f"/v1/alerts/{alert_id}", headers=alert_api.headers("b"))
    AlertDetail.model_validate(shown.json())
    assert shown.json()["ack"] == {
        "acknowledged_at": kept["acknowledged_at"],
        "acknowledged_by": "risk-desk",
        "note": "collection call booked",
    }
    assert shown.json()["attempts"] == []
    listed = {a["id"]: a for a in alert_api.alerts("b")}
    assert listed[alert_id]["ack"] == shown.json()["ack"]


def test_ack_without_a_body_names_the_key(alert_api: AlertApi) -> None:
    alert_id = _ids(alert_api.alerts("a"))[0]
    answer = alert_api.client.post(f"/v1/alerts/{alert_id}/ack", headers=alert_api.headers("a"))
    assert answer.status_code == 200
    assert answer.json()["acknowledged_by"] == "bank-a"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/v1/alerts?after=-1", {}),
        ("get", "/v1/alerts?limit=0", {}),
        ("get", "/v1/alerts?limit=1001", {}),
        ("get", f"/v1/alerts?after={2**63}", {}),
        ("get", "/v1/alerts?institution=not%20a%20code", {}),
        ("get", "/v1/alerts/" + "x" * 65, {}),
        ("get", "/v1/alerts/stream?after=x", {}),
        ("get", "/v1/alerts/stream", {"headers": {"Last-Event-ID": "seven"}}),
        ("post", f"/v1/alerts/{UNKNOWN}/ack", {"json": {"by": "desk", "extra": 1}}),
        ("post", f"/v1/alerts/{UNKNOWN}/ack", {"json": {"note": "x" * 201}}),
        ("post", f"/v1/alerts/{UNKNOWN}/ack", {"json": {"by": ""}}),
    ],
)
def test_bad_requests_get_one_problem(
    alert_api: AlertApi, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    # Not popped: the parameters' dict is shared by every run of this case (one per database).
    rest = {name: value for name, value in kwargs.items() if name != "headers"}
    headers = alert_api.headers("a") | kwargs.get("headers", {})
    answer = getattr(alert_api.client, method)(path, headers=headers, **rest)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "validation"


def test_every_alert_route_needs_a_key(alert_api: AlertApi) -> None:
    for method, path in (
        ("get", "/v1/alerts"),
        ("get", "/v1/alerts/stream"),
        ("get", f"/v1/alerts/{UNKNOWN}"),
        ("post", f"/v1/alerts/{UNKNOWN}/ack"),
    ):
        answer = getattr(alert_api.client, method)(path)
        assert answer.status_code == 401, path
        assert answer.headers["content-type"] == "application/problem+json"
