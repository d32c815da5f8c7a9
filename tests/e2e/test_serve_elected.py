"""Several ``ledger serve`` processes on one PostgreSQL store and one anvil node.

Exactly one of them, the elected anchor sender, sends anchors; the others store
their submissions' batches and wait for it. ``kill -9`` of the sender in the middle
of a 100 000-row submission: another process takes over within 10 s, and every
record is anchored exactly once (the registry's ``anchorCount`` and
``anchorByBatch`` against the store). Caches hold across processes: a revoked key
stops working on every process within the key-cache time, and a batch anchored
through one process verifies on the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from ledger.anchoring.election import SENDER_LOCK
from ledger.chain import Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient
from ledger.chain.types import BatchKind
from ledger.records import synthetic_rows
from ledger.store import Batch, Store
from tests._keys import api_key, bearer
from tests._leaves import all_leaves
from tests.conftest import COMMAND_TIMEOUT, AnvilNode, ledger_cli, rpc_chain, wait_until
from tests.e2e.test_serve import HTTP, HTTP_TIMEOUT, serve_process

pytestmark = pytest.mark.rpc

#: The acceptance bound: a killed sender is replaced within this.
TAKEOVER_SECONDS = 10.0
#: A key is remembered this long by each process (LEDGER_API_KEY_CACHE_SECONDS).
KEY_CACHE_SECONDS = 2.0
#: A generous bound on one 10000-row request on a busy two-core machine.
REQUEST_TIMEOUT = 600.0
ROWS = 100_000
CHUNK = 10_000  # the most one request takes
BATCH_SIZE = 1_000


def _env(data_dir: Path, pg_url: str, anvil: AnvilNode) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATA_DIR": str(data_dir),
            "LEDGER_DB_URL": pg_url,
            "LEDGER_RPC_URL": anvil.url,
            "LEDGER_BATCH_SIZE": str(BATCH_SIZE),
            "LEDGER_API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
        }
    )
    return env


def _ledger(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [ledger_cli(), *args], env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _key(env: dict[str, str], name: str, role: str) -> dict[str, str]:
    """Authorization headers with a new API key (as ``ledger partner add`` makes it)."""
    data_dir, db_url = Path(env["LEDGER_DATA_DIR"]), env["LEDGER_DB_URL"]
    return bearer(api_key(data_dir, name, role, db_url=db_url))


def deploy_on(anvil: AnvilNode, data_dir: Path) -> None:
    """What ``ledger deploy --fund-from-dev-node`` leaves, made in-process (deploy is not
    what these tests are about; the command costs 3.4 s of CPU, nearly all imports)."""
    data_dir.mkdir(mode=0o700)
    with rpc_chain(anvil, data_dir) as chain:  # funds the data dir's account first
        deploy(chain, data_dir)


@pytest.fixture
def env(tmp_path: Path, pg_url: str, anvil: AnvilNode) -> dict[str, str]:
    """A data dir deployed on anvil, its store a fresh PostgreSQL database."""
    data_dir = tmp_path / "data"
    env = _env(data_dir, pg_url, anvil)
    deploy_on(anvil, data_dir)
    return env


def ready(url: str) -> dict[str, Any]:
    answer = HTTP.get(url + "/readyz", timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def is_sender(url: str) -> bool:
    return bool(ready(url)["anchor_sender"])


def sender_gauge(url: str) -> float:
    """``creditanchor_anchor_sender`` as ``/metrics`` says it."""
    text = HTTP.get(url + "/metrics", timeout=HTTP_TIMEOUT).text
    (line,) = [x for x in text.splitlines() if x.startswith("creditanchor_anchor_sender ")]
    return float(line.split()[1])


@contextmanager
def two_servers(env: dict[str, str], logs: Path) -> Iterator[list[tuple[str, Any]]]:
    """Two ``ledger serve`` processes; the first is the sender, the second is not."""
    with ExitStack() as stack:
        first = stack.enter_context(serve_process(env, logs / "first.log"))
        wait_until(lambda: is_sender(first[0]), interval=0.1)
        second = stack.enter_context(serve_process(env, logs / "second.log"))
        assert not is_sender(second[0])
        assert sender_gauge(first[0]) == 1 and sender_gauge(second[0]) == 0
        yield [first, second]


def chunks() -> list[list[dict[str, object]]]:
    rows = list(synthetic_rows(ROWS, seed=20))
    return [rows[i : i + CHUNK] for i in range(0, ROWS, CHUNK)]


class Client(threading.Thread):
    """Posts its chunks in order to ``urls[0]``; when that process is gone, to the next."""

    def __init__(self, urls: list[str], parts: list[list[dict[str, object]]], headers: Any) -> None:
        super().__init__(daemon=True)
        self.urls, self.parts, self.headers = urls, parts, headers
        self.reports: list[dict[str, Any]] = []
        self.sent = 0  # requests started
        self.failed_over = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for part in self.parts:
                self.reports.append(self._post(part))
        except BaseException as exc:
            self.error = exc

    def _post(self, part: list[dict[str, object]]) -> dict[str, Any]:
        while True:
            self.sent += 1
            try:
                answer = HTTP.post(
                    self.urls[0] + "/v1/submissions",
                    json={"records": part},
                    headers=self.headers,
                    timeout=REQUEST_TIMEOUT,
                )
            except httpx.TransportError:  # its server was killed: the same rows elsewhere
                assert len(self.urls) > 1
                self.urls.pop(0)
                self.failed_over = True
                continue
            assert answer.status_code == 200, answer.text
            return dict(answer.json())


def anchored_credit_batches(pg_url: str) -> int:
    store = Store(pg_url)
    try:
        with store.session() as s:
            return int(
                s.scalar(
                    select(func.count()).where(
                        Batch.kind == int(BatchKind.CREDIT_DATA), Batch.status == "anchored"
                    )
                )
                or 0
            )
    finally:
        store.close()


def check_every_record_anchored_once(env: dict[str, str], anvil: AnvilNode, rows: int) -> None:
    data_dir = Path(env["LEDGER_DATA_DIR"])
    store = Store(env["LEDGER_DB_URL"])
    try:
        with store.session() as s:
            stored = all_leaves(s)
            batches = list(s.scalars(select(Batch)))
    finally:
        store.close()
    credit = [b for b in batches if b.kind == int(BatchKind.CREDIT_DATA)]
    assert len(stored) >= rows
    assert len({x.record_id for x in stored if x.batch_id in {b.batch_id for b in credit}}) == rows
    assert sum(b.tree_size for b in credit) == rows
    assert all(b.status == "anchored" for b in batches), [b.status for b in batches]
    deployment = Deployment.load(data_dir / "deployment.json")
    chain = rpc_chain(anvil, data_dir)
    try:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        assert registry.anchor_count() == len(batches)
        events = registry.events(deployment.deployment_block)
        assert sorted("0x" + e.batch_id.hex() for e in events) == sorted(
            b.batch_id for b in batches
        )
        for b in batches:
            record = registry.anchor_by_batch(bytes.fromhex(b.batch_id[2:]))
            assert record is not None
            assert ("0x" + record.root.hex(), record.tree_size) == (b.root, b.tree_size)
    finally:
        chain.close()


@pytest.mark.slow
def test_the_killed_sender_is_replaced_and_every_record_is_anchored_once(
    env: dict[str, str], anvil: AnvilNode, pg_url: str, tmp_path: Path
) -> None:
    headers = _key(env, "ops", "operator")
    parts = chunks()
    with two_servers(env, tmp_path) as [(first, proc), (second, _)]:
        # Half the rows go to the sender itself, half to the other process, at once.
        to_first = Client([first, second], parts[0::2], headers)
        to_second = Client([second], parts[1::2], headers)
        to_first.start()
        to_second.start()
        # Both are in the middle of a request, and the sender anchored some batches.
        wait_until(
            lambda: to_first.sent and to_second.sent and anchored_credit_batches(pg_url) >= 3,
            timeout=REQUEST_TIMEOUT,
            interval=0.05,
        )
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=HTTP_TIMEOUT)
        wait_until(lambda: is_sender(second), timeout=TAKEOVER_SECONDS, interval=0.1)
        took_over = time.monotonic() - killed
        for client in (to_first, to_second):
            client.join(timeout=REQUEST_TIMEOUT * len(parts))
            assert not client.is_alive()
            assert client.error is None, client.error
        assert took_over <= TAKEOVER_SECONDS
        assert to_first.failed_over  # its request in flight died with the sender: resumed
        reports = to_first.reports + to_second.reports
        assert len(reports) == len(parts)
        assert sum(r["accepted"] for r in reports) == ROWS  # a resumed report counts it all
        wait_until(lambda: pending_batches(pg_url) == 0, interval=0.1)
    # Nothing runs any more: the store and the chain are compared as they stand.
    check_every_record_anchored_once(env, anvil, ROWS)


def pending_batches(pg_url: str) -> int:
    store = Store(pg_url)
    try:
        with store.session() as s:
            return int(s.scalar(select(func.count()).where(Batch.status == "pending")) or 0)
    finally:
        store.close()


def stored_records(pg_url: str) -> list[dict[str, object]]:
    """The desensitised records (with their salts) the store holds."""
    store = Store(pg_url)
    try:
        with store.session() as s:
            return [json.loads(x.canonical) for x in all_leaves(s) if x.canonical is not None]
    finally:
        store.close()


@pytest.mark.slow
def test_keys_and_anchors_hold_across_processes(
    env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    operator = _key(env, "ops", "operator")
    auditor = _key(env, "audit", "auditor")
    rows = list(synthetic_rows(20, seed=21))
    with two_servers(env, tmp_path) as [(first, _), (second, _)]:
        # Submitted through the process that does not send: anchored by the one that does.
        answer = HTTP.post(
            second + "/v1/submissions",
            json={"records": rows},
            headers=operator,
            timeout=REQUEST_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["accepted"] == len(rows) and report["batches"]
        assert all(b["tx_hash"].startswith("0x") for b in report["batches"])
        records = stored_records(pg_url)
        assert len(records) == len(rows)
        for url in (first, second):
            verified = HTTP.post(
                url + "/v1/verify", json={"records": records}, headers=auditor,
                timeout=HTTP_TIMEOUT,
            )  # fmt: skip
            assert verified.status_code == 200, verified.text
            assert verified.json()["counts"]["anchored"] == len(rows), verified.text

        # Both processes have the auditor's key cached; then it is revoked.
        answers: list[tuple[float, int]] = []

        def statuses() -> set[int]:
            got = set()
            for url in (first, second):
                asked = time.monotonic()
                code = HTTP.get(url + "/v1/inquiries", headers=auditor, timeout=HTTP_TIMEOUT)
                answers.append((asked, code.status_code))
                got.add(code.status_code)
            return got

        assert statuses() == {200}
        _ledger(env, "partner", "revoke", "audit")
        revoked = time.monotonic()
        # Until both refuse it, and both were asked after the key-cache time too.
        wait_until(
            lambda: statuses() == {401} and answers[-2][0] > revoked + KEY_CACHE_SECONDS,
            interval=0.05,
        )
        # No request asked after the key-cache time was let through, on either process.
        late = [code for asked, code in answers if asked > revoked + KEY_CACHE_SECONDS]
        assert late and 200 not in late


def sender_locks(pg_url: str) -> int:
    """Sessions holding the anchor sender's lock."""
    store = Store(pg_url)
    try:
        with store.session() as s:
            return int(
                s.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND ((classid::bigint << 32) | objid::bigint) = :key"
                    ),
                    {"key": SENDER_LOCK},
                )
                or 0
            )
    finally:
        store.close()


@pytest.mark.slow
def test_two_workers_of_one_server_elect_one_sender(
    env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    operator = _key(env, "ops", "operator")
    with serve_process(env, tmp_path / "serve.log", "--workers", "2") as (url, _):
        wait_until(lambda: sender_locks(pg_url) == 1, interval=0.1)
        for seed in (22, 23, 24):  # whichever worker answers, the sender anchors
            answer = HTTP.post(
                url + "/v1/submissions",
                json={"records": list(synthetic_rows(10, seed=seed))},
                headers=operator,
                timeout=REQUEST_TIMEOUT,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["batches"][0]["tx_hash"].startswith("0x")
        # Still one (uvicorn kills a worker that misses its 5 s health check on a busy
        # machine and starts another: for a moment then there may be none).
        wait_until(lambda: sender_locks(pg_url) == 1, interval=0.1)
