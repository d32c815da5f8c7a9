"""``GET /v1/alerts/stream``: Server-Sent Events of a bank's own alerts, resumable.

The TestClient reads a response to its end, so these streams end by themselves
after ``alert_stream_seconds`` (see ``STREAM_LIMITS``); tests/e2e/test_serve_alerts.py
reads a live stream from a real server as events arrive.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests._alert_book import BANK_B
from tests.api.conftest import AlertApi


def parse_events(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """The events of an event stream (field -> value) and its comment lines."""
    events, comments = [], []
    for block in text.split("\n\n"):
        event: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif ":" in line:
                name, _, value = line.partition(":")
                event[name] = value.removeprefix(" ")
        if "data" in event:
            events.append(event)
    return events, comments


def stream(alert_api: AlertApi, who: str, **kwargs: Any) -> tuple[list[dict[str, str]], list[str]]:
    answer = alert_api.client.get(
        "/v1/alerts/stream", headers=alert_api.headers(who) | kwargs.pop("headers", {}), **kwargs
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    return parse_events(answer.text)


def test_the_stream_sends_every_own_alert_with_its_seq_type_and_body(alert_api: AlertApi) -> None:
    listed = alert_api.alerts("a")
    events, comments = stream(alert_api, "a")
    assert [int(e["id"]) for e in events] == [a["seq"] for a in listed]
    assert [e["event"] for e in events] == [a["type"] for a in listed]
    assert [orjson.loads(e["data"]) for e in events] == [a["body"] for a in listed]
    assert "heartbeat" in comments  # the stream stayed open, idle, past a heartbeat


def test_last_event_id_resumes_with_exactly_the_alerts_after_it(alert_api: AlertApi) -> None:
    seqs = [a["seq"] for a in alert_api.alerts("a")]
    for k in (0, 1, len(seqs) // 2, len(seqs)):
        last = seqs[k - 1] if k else 0
        events, _ = stream(alert_api, "a", headers={"Last-Event-ID": str(last)})
        assert [int(e["id"]) for e in events] == seqs[k:]
    # Last-Event-ID (a reconnect) wins over ?after=
    events, _ = stream(
        alert_api, "a", params={"after": 0}, headers={"Last-Event-ID": str(seqs[-2])}
    )
    assert [int(e["id"]) for e in events] == seqs[-1:]
    events, _ = stream(alert_api, "a", params={"after": seqs[-2]})
    assert [int(e["id"]) for e in events] == seqs[-1:]


def test_a_bank_streams_nothing_of_another_bank(alert_api: AlertApi) -> None:
    b_seqs = {a["seq"] for a in alert_api.alerts("b")}
    a_events, _ = stream(alert_api, "a")
    assert a_events and not {int(e["id"]) for e in a_events} & b_seqs
    c_events, comments = stream(alert_api, "c")
    assert c_events == [] and "heartbeat" in comments
    refused = alert_api.client.get(
        "/v1/alerts/stream", params={"institution": BANK_B}, headers=alert_api.headers("a")
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_operator_streams_one_bank_or_all(alert_api: AlertApi) -> None:
    every = {a["seq"] for a in alert_api.alerts("operator")}
    events, _ = stream(alert_api, "operator")
    assert {int(e["id"]) for e in events} == every
    events, _ = stream(alert_api, "auditor", params={"institution": BANK_B})
    assert [int(e["id"]) for e in events] == [a["seq"] for a in alert_api.alerts("b")]


def test_a_finished_stream_gives_its_slot_back(alert_api: AlertApi) -> None:
    stream(alert_api, "c")
    metrics = alert_api.client.get("/metrics").text
    assert "creditanchor_alert_streams_open 0.0" in metrics
