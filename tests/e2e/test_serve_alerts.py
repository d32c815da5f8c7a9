"""The alert stream of a real ``ledger serve``: live events, resume, isolation, disconnects.

Alerts come from ``ledger submit`` (two months of tests/_alert_book.py) and, while
a stream is open, from another process writing to the same store (as a submission
through another worker would). Every wait is on what the stream or /metrics shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.alerts.outbox import NewAlert, enqueue
from ledger.records import write_jsonl
from ledger.store import Store
from tests._alert_book import BANK_A, BANK_B, BANK_C, february, january
from tests.conftest import WAIT_SECONDS, copy_deployment, wait_until
from tests.e2e.test_serve import HTTP, HTTP_TIMEOUT, _env, _key, _ledger, serving

STREAM_ENV = {
    "LEDGER_API_ALERT_STREAM_POLL_SECONDS": "0.05",
    "LEDGER_API_ALERT_STREAM_HEARTBEAT_SECONDS": "0.2",
    "LEDGER_API_ALERT_STREAM_MAX_CLIENTS": "2",
}


@dataclass
class Served:
    url: str
    data_dir: Path
    headers: dict[str, dict[str, str]]

    def alerts(self, who: str) -> list[dict[str, object]]:
        answer = HTTP.get(
            self.url + "/v1/alerts", params={"limit": 1000}, headers=self.headers[who],
            timeout=HTTP_TIMEOUT,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        alerts: list[dict[str, object]] = answer.json()["alerts"]
        return alerts

    def open_streams(self) -> int:
        text = HTTP.get(self.url + "/metrics", timeout=HTTP_TIMEOUT).text
        found = re.search(r"^creditanchor_alert_streams_open ([0-9.]+)$", text, re.M)
        assert found
        return int(float(found.group(1)))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve-alerts")
    data_dir = copy_deployment(deployed_template, root / "data")  # what `ledger deploy` leaves
    for name, rows in (("jan", january()), ("feb", february())):
        write_jsonl(rows, root / f"{name}.jsonl")
        done = _ledger(data_dir, "submit", str(root / f"{name}.jsonl"))
        assert done.returncode == 0, done.stderr
    headers = {
        who: _key(data_dir, f"bank-{who}", "partner", code)
        for who, code in (("a", BANK_A), ("b", BANK_B), ("c", BANK_C))
    }
    with serving(_env(data_dir) | STREAM_ENV, root / "serve.log") as url:
        yield Served(url, data_dir, headers)


class Stream:
    """An open event stream, read line by line as the server sends."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.events: list[dict[str, str]] = []
        self.comments: list[str] = []
        self._event: dict[str, str] = {}

    def read_until(self, done: object) -> None:
        """Read until ``done()`` is true; each line comes within a heartbeat."""
        assert callable(done)
        wait_until(lambda: done() or (self._read_line() and done()), interval=0)

    def _read_line(self) -> bool:
        line = next(self.lines)
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
        elif line:
            name, _, value = line.partition(":")
            self._event[name] = value.removeprefix(" ")
        elif "data" in self._event:
            self.events.append(self._event)
            self._event = {}
        return True

    def ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events]


def _stream(served: Served, client: httpx.Client, who: str, **headers: str) -> Stream:
    request = client.build_request(
        "GET", served.url + "/v1/alerts/stream", headers=served.headers[who] | headers
    )
    response = client.send(request, stream=True)
    assert response.status_code == 200, response.read()
    return Stream(response)


def _enqueue(data_dir: Path, institution: str, n: int) -> str:
    store = Store.open(data_dir)
    try:
        with store.session() as s, s.begin():
            (alert_id,) = enqueue(s, [NewAlert(institution, "overdue.entered", {"n": n}, None)])
        return alert_id
    finally:
        store.close()


def test_a_live_stream_resumes_sends_new_alerts_and_only_its_own(served: Served) -> None:
    seqs = [int(str(a["seq"])) for a in served.alerts("a")]
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        stream = _stream(served, client, "a", **{"Last-Event-ID": str(seqs[1])})
        stream.read_until(lambda: stream.ids() == seqs[2:])
        assert served.open_streams() == 1
        _enqueue(served.data_dir, BANK_B, 1)  # another bank's: never on this stream
        mine = _enqueue(served.data_dir, BANK_A, 2)
        stream.read_until(lambda: len(stream.events) == len(seqs) - 1)
        new = stream.events[-1]
        assert json.loads(new["data"])["data"] == {"n": 2}
        assert served.alerts("a")[-1]["id"] == mine and int(new["id"]) > seqs[-1]
        stream.read_until(lambda: "heartbeat" in stream.comments)
        assert stream.ids() == [int(str(a["seq"])) for a in served.alerts("a")][2:]
        stream.response.close()  # the client goes away
    wait_until(lambda: served.open_streams() == 0)  # and the server notices


def test_a_bank_without_alerts_gets_heartbeats_only(served: Served) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        stream = _stream(served, client, "c")
        stream.read_until(lambda: stream.comments.count("heartbeat") >= 2)
        assert stream.events == []
        stream.response.close()
    wait_until(lambda: served.open_streams() == 0)


def test_streams_beyond_the_limit_get_503(served: Served) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        streams = [_stream(served, client, who) for who in ("a", "b")]
        wait_until(lambda: served.open_streams() == 2)
        refused = HTTP.get(
            served.url + "/v1/alerts/stream", headers=served.headers["c"], timeout=WAIT_SECONDS
        )
        assert refused.status_code == 503 and "Retry-After" in refused.headers
        assert refused.headers["content-type"] == "application/problem+json"
        for stream in streams:
            stream.response.close()
    wait_until(lambda: served.open_streams() == 0)
