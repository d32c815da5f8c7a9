"""``GET /metrics``: risk alerts per bank, consent-check outcomes, submissions and anchor lag."""

from __future__ import annotations

import re

from tests._alert_book import BANK_A, BANK_B
from tests.api.conftest import AlertApi


def _value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels in any order; all must match)."""
    for line in text.splitlines():
        found = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)", line)
        if not found or found.group(1) != name:
            continue
        have = dict(re.findall(r'([a-z_]+)="([^"]*)"', found.group(2) or ""))
        if have == labels:
            return float(found.group(3))
    raise AssertionError(f"{name}{labels} not in metrics")


def test_alert_figures_per_bank_and_type(alert_api: AlertApi) -> None:
    mine = alert_api.alerts("a")
    theirs = alert_api.alerts("b")
    text = alert_api.client.get("/metrics").text
    for code, alerts in ((BANK_A, mine), (BANK_B, theirs)):
        for event_type in {a["type"] for a in alerts}:
            count = sum(a["type"] == event_type for a in alerts)
            labels = {"institution": code, "type": event_type}
            assert _value(text, "creditanchor_alerts_total", **labels) == count
            assert _value(text, "creditanchor_alert_deliveries", state="pulled", **labels) == count
        assert _value(text, "creditanchor_plan_level", institution=code) == 3
        opened = sum(a["ack"] is None for a in alerts)
        assert _value(text, "creditanchor_alerts_open", institution=code) == opened
        assert _value(text, "creditanchor_alert_delivery_lag_seconds", institution=code) == 0
    for alert in mine + theirs:  # per bank and type, never per loan or record
        data = alert["body"]["data"]
        for value in (data.get("loan_ref"), data.get("leaf_hash"), alert["id"]):
            assert value is None or value not in text


def test_an_ack_moves_the_counters(alert_api: AlertApi) -> None:
    alert = next(a for a in alert_api.alerts("a") if a["ack"] is None)
    labels = {"institution": BANK_A, "type": alert["type"]}
    before = alert_api.client.get("/metrics").text
    answer = alert_api.client.post(f"/v1/alerts/{alert['id']}/ack", headers=alert_api.headers("a"))
    assert answer.status_code == 200
    after = alert_api.client.get("/metrics").text
    acked = "creditanchor_alerts_acked_total"
    assert _value(after, acked, **labels) == _value(before, acked, **labels) + 1
    opened = "creditanchor_alerts_open"
    assert (
        _value(after, opened, institution=BANK_A) == _value(before, opened, institution=BANK_A) - 1
    )


def test_consent_check_outcomes_submissions_and_anchor_lag(alert_api: AlertApi) -> None:
    subject = {"id_type": "10", "id_number": "110101199003070011"}
    before = alert_api.client.get("/metrics").text
    try:
        refused_before = _value(before, "creditanchor_consent_checks_total", outcome="no_consent")
    except AssertionError:
        refused_before = 0.0
    answer = alert_api.client.post(
        "/v1/consents/check",
        json={"subject": subject, "purpose": "LOAN_APPROVAL"},
        headers=alert_api.headers("c"),
    )
    assert answer.status_code == 200 and answer.json()["reason"] == "no_consent"
    text = alert_api.client.get("/metrics").text
    checks = _value(text, "creditanchor_consent_checks_total", outcome="no_consent")
    assert checks == refused_before + 1
    assert subject["id_number"] not in text
    assert _value(text, "creditanchor_submission_rows_total", outcome="accepted") == 6
    assert _value(text, "creditanchor_submission_rejection_ratio_count") == 2
    assert _value(text, "creditanchor_submission_rejection_ratio_bucket", le="0.0") == 2
    assert _value(text, "creditanchor_anchor_pending_seconds", kind="1") == 0
    assert _value(text, "creditanchor_anchor_last_lag_seconds", kind="1") >= 0
