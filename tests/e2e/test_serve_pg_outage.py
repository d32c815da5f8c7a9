"""PostgreSQL stops for 10 s in the middle of a submission to a real ``ledger serve``.

While the store is down, every call that needs it answers 503 problem+json with
Retry-After, at once (no 500, no traceback, no hang); the server reconnects on its
own when PostgreSQL is back (its pool checks a connection before handing it out,
and the elected anchor sender takes its lock again on a new connection); the same
records sent again resume the submission, and every record is anchored exactly once
(the registry's ``anchorCount`` and ``anchorByBatch`` against the store).

The test has a cluster of its own: it stops that server, which the worker's other
tests share.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.config import MAX_ITEMS
from api.errors import PROBLEM_MEDIA_TYPE
from ledger import _failpoints
from ledger.chain.types import BatchKind
from ledger.records import synthetic_rows
from ledger.store import Batch, Store, Submission
from tests._postgres import Cluster, start_cluster
from tests.conftest import AnvilNode, wait_until
from tests.e2e.test_serve import HTTP, serve_process
from tests.e2e.test_serve_elected import (
    REQUEST_TIMEOUT,
    _env,
    _key,
    check_every_record_anchored_once,
    deploy_on,
    is_sender,
    pending_batches,
    sender_locks,
)

pytestmark = [pytest.mark.rpc, pytest.mark.slow]

#: How long PostgreSQL stays down (the acceptance item's 10 s).
OUTAGE_SECONDS = 10.0
#: A store call with the store down answers within this: it fails, it does not wait
#: (generous: a loaded two-core machine stalls a process for seconds).
ANSWER_BOUND = 15.0
#: The request in flight when the store stops ends within this (about 4 s here; a
#: loaded two-core machine may stall it many times that).
IN_FLIGHT_BOUND = 60.0
#: The most one request takes, in small batches: the submission is still running
#: (anchoring batch after batch) when the server stops.
ROWS = MAX_ITEMS
BATCH_SIZE = 100
#: Longer than the outage: see :func:`env`.
KEY_CACHE_SECONDS = 60  # the most the API allows
#: The request is held after its 3rd batch is stored (of 100; at most 8 are stored
#: in one transaction), until the store has stopped: whatever the machine's speed,
#: the store goes away in the middle of the submission, not after it.
HELD_AT = "batch-stored@3=hold"


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def env(tmp_path: Path, own_cluster: Cluster, anvil: AnvilNode) -> dict[str, str]:
    """A data dir deployed on anvil, its store a database of the test's own cluster."""
    url = own_cluster.url(own_cluster.create_database())
    env = _env(tmp_path / "data", url, anvil)
    env["LEDGER_BATCH_SIZE"] = str(BATCH_SIZE)
    # Keys verified before the outage stay known through it: a call then reaches its
    # route's own store calls, not only the key lookup's.
    env["LEDGER_API_KEY_CACHE_SECONDS"] = str(KEY_CACHE_SECONDS)
    deploy_on(anvil, tmp_path / "data")
    env[_failpoints.ENV] = HELD_AT
    env[_failpoints.RELEASE_ENV] = str(tmp_path / "release")
    return env


def pg_ctl(cluster: Cluster, *args: str) -> None:
    cluster.run(
        "pg_ctl", *args, "-w", "-D", str(cluster.data), "-l", str(cluster.root / "server.log")
    )


class Posting(threading.Thread):
    """One POST /v1/submissions in the background; its answer or its error."""

    def __init__(self, url: str, rows: list[dict[str, object]], headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.rows, self.headers = url, rows, headers
        self.answer: httpx.Response | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.answer = HTTP.post(
                self.url + "/v1/submissions",
                json={"records": self.rows},
                headers=self.headers,
                timeout=REQUEST_TIMEOUT,
            )
        except BaseException as exc:
            self.error = exc


def assert_unavailable(answer: httpx.Response) -> None:
    """503 problem+json with a Retry-After of whole seconds, and nothing of the driver."""
    assert answer.status_code == 503, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert answer.headers["retry-after"].isdigit(), answer.headers
    assert int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert body["status"] == 503 and body["code"] == "unavailable", body
    for leak in ("Traceback", "psycopg", ".s.PGSQL", "socket", "/tmp"):  # the driver's text
        assert leak not in answer.text, answer.text


def credit_batches(url: str) -> list[str]:
    """The credit-data batches stored so far (anchored or not), oldest first."""
    store = Store(url)
    try:
        with store.session() as s:
            return list(
                s.scalars(
                    select(Batch.batch_id)
                    .where(Batch.kind == int(BatchKind.CREDIT_DATA))
                    .order_by(Batch.created_at)
                )
            )
    finally:
        store.close()


def submissions(url: str) -> list[tuple[str, str, int]]:
    """Each submission's id, status and rows done."""
    store = Store(url)
    try:
        with store.session() as s:
            return [(x.id, x.status, x.rows_done) for x in s.scalars(select(Submission))]
    finally:
        store.close()


def timed(call: Any) -> httpx.Response:
    began = time.monotonic()
    answer: httpx.Response = call()
    assert time.monotonic() - began < ANSWER_BOUND
    return answer


def test_the_store_down_for_10_s_answers_503_and_the_submission_resumes(
    env: dict[str, str], own_cluster: Cluster, anvil: AnvilNode, tmp_path: Path
) -> None:
    operator = _key(env, "ops", "operator")
    auditor = _key(env, "audit", "auditor")
    url_db = env["LEDGER_DB_URL"]
    rows = list(synthetic_rows(ROWS, seed=26))
    log = tmp_path / "serve.log"
    with serve_process(env, log) as (url, proc):
        wait_until(lambda: is_sender(url), interval=0.1)
        first = Posting(url, rows, operator)
        first.start()

        # In the middle: three batches stored, the request held there (still running).
        def midway() -> list[str]:
            assert first.is_alive(), first.answer.text if first.answer else first.error
            stored = credit_batches(url_db)
            return stored if len(stored) >= 3 else []

        batch_id = wait_until(midway, timeout=REQUEST_TIMEOUT, interval=0.05)[0]

        calls = {
            "readyz": lambda: HTTP.get(url + "/readyz", timeout=ANSWER_BOUND),
            "batch": lambda: HTTP.get(
                url + f"/v1/batches/{batch_id}", headers=auditor, timeout=ANSWER_BOUND
            ),
            "verify": lambda: HTTP.post(
                url + "/v1/verify",
                json={"leaf_hashes": ["0x" + "11" * 32]},
                headers=auditor,
                timeout=ANSWER_BOUND,
            ),
            "metrics": lambda: HTTP.get(url + "/metrics", timeout=ANSWER_BOUND),
            "submit": lambda: HTTP.post(
                url + "/v1/submissions",
                json={"records": rows[:10]},
                headers=operator,
                timeout=ANSWER_BOUND,
            ),
        }
        # The calls answer while the store is up (and the keys are cached).
        for name in ("batch", "verify", "metrics"):
            assert timed(calls[name]).status_code == 200, name

        pg_ctl(own_cluster, "stop", "-m", "fast")
        stopped = time.monotonic()
        Path(env[_failpoints.RELEASE_ENV]).touch()  # the held request goes on
        # The request in flight fails cleanly, and soon: the store went away under it
        # (it does not wait for the store to come back).
        first.join(timeout=IN_FLIGHT_BOUND)
        assert not first.is_alive(), "the request in flight hangs with the store down"
        assert first.error is None, first.error
        assert first.answer is not None
        assert_unavailable(first.answer)
        rounds = 0
        # The outage: every store call, again and again, until 10 s have passed.
        while time.monotonic() - stopped < OUTAGE_SECONDS or rounds == 0:
            for name, call in calls.items():
                answer = timed(call)
                assert answer.status_code == 503, (name, answer.text)
                assert_unavailable(answer)
            rounds += 1
        assert proc.poll() is None

        pg_ctl(own_cluster, "start")
        # Back on its own: ready, sender again (its lock re-taken on a new connection).
        wait_until(lambda: timed(calls["readyz"]).status_code == 200, interval=0.1)
        wait_until(lambda: is_sender(url), interval=0.1)
        assert sender_locks(url_db) == 1

        # The batch stored before the outage is anchored (by the request before it
        # stopped, or by the sender since).
        def anchored() -> bool:
            answer = timed(calls["batch"])
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["status"] == "anchored")

        wait_until(anchored, interval=0.1)

        # What the outage left: the one submission, part done (nothing of the calls
        # made during the outage).
        ((sub_id, status, done),) = submissions(url_db)
        assert status == "open" and 0 < done < ROWS

        # The same records again: the submission resumes where the outage stopped it.
        again = Posting(url, rows, operator)
        again.run()
        assert again.error is None, again.error
        assert again.answer is not None and again.answer.status_code == 200, again.answer
        report = again.answer.json()
        assert report["accepted"] + report["rejected"] == ROWS
        accepted = report["accepted"]
        assert report["submission_id"] == sub_id and not report["already_complete"]
        # Only what was left was stored now: the batches made before the outage were not.
        fresh = sum(b["tree_size"] for b in report["batches"] if not b["resumed"])
        assert 0 < fresh < accepted
        assert submissions(url_db) == [(sub_id, "complete", ROWS)]
        assert accepted > 0
        wait_until(lambda: pending_batches(url_db) == 0, interval=0.1)
        assert proc.poll() is None
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    statuses = [json.loads(x)["status"] for x in text.splitlines() if x.startswith('{"method"')]
    assert statuses.count(503) >= 5 * rounds and 500 not in statuses
    check_every_record_anchored_once(env, anvil, accepted)
