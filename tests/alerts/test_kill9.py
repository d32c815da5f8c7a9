"""``kill -9`` the dispatcher at random moments while alerts flow: nothing is lost.

The dispatcher runs as the real command (``ledger alerts dispatch``) in its own
process. Each round the test writes new alerts, waits until the bank has seen a
random number of new connections or requests (mid-POST, or after the bank got the
body but before the dispatcher recorded the answer), and kills the process with
SIGKILL. At the end every alert is delivered, the bank processed each exactly
once, and every request it got carried the body stored for its webhook-id.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from ledger.alerts.outbox import alerts_after
from tests.alerts._banks import Bank
from tests.alerts.conftest import AlertEnv, alert
from tests.alerts.test_delivery import processed
from tests.conftest import ledger_cli, wait_until

KILLS = 22


def _env(data_dir: Path, db_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    if db_url is not None:
        env["LEDGER_DB_URL"] = db_url
    env.update(
        {
            "LEDGER_DATA_DIR": str(data_dir),
            "LEDGER_ALERT_ALLOW_HOSTS": json.dumps(["127.0.0.1"]),
            "LEDGER_ALERT_POLL_SECONDS": "0.02",
            "LEDGER_ALERT_RETRY_SCHEDULE": json.dumps([0.01, 0.05, 0.2, 1, 2, 5, 10, 30]),
            "LEDGER_ALERT_REQUEST_TIMEOUT": "2",
            "LEDGER_ALERT_CLAIM_SECONDS": "3",
            "LEDGER_ALERT_CONCURRENCY": "4",
        }
    )
    return env


def _spawn(data_dir: Path, db_url: str | None, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [ledger_cli(), "alerts", "dispatch"],
            env=_env(data_dir, db_url),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing(env: AlertEnv, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    bank = Bank().start()
    env.add_bank("KILLED", bank)
    data_dir, log = env.settings.data_dir, tmp_path / "dispatch.log"
    ids: list[str] = []
    try:
        for _ in range(KILLS):
            new = rng.randint(2, 8)
            ids += env.enqueue(*(alert("KILLED", len(ids) + k) for k in range(new)))
            proc = _spawn(data_dir, env.settings.db_url, log)
            watch = rng.choice(["connections", "received"])
            start = bank.connections if watch == "connections" else len(bank.received)
            goal = start + rng.randint(1, new)

            def reached(
                watch: str = watch, goal: int = goal, proc: subprocess.Popen[bytes] = proc
            ) -> bool:
                seen = bank.connections if watch == "connections" else len(bank.received)
                return seen >= goal or proc.poll() is not None

            wait_until(reached)
            assert proc.poll() is None, f"the dispatcher exited (seed {seed}): {log.read_text()}"
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL

        proc = _spawn(data_dir, env.settings.db_url, log)
        try:
            wait_until(lambda: set(env.states(ids)) == {"delivered"})
        finally:
            proc.kill()
            proc.wait()
    finally:
        bank.stop()

    assert processed(bank) == dict.fromkeys(ids, 1), f"seed {seed}"
    with env.store.session() as s:
        stored = {a.id: a.body for a in alerts_after(s, "KILLED", 0, 1000)}
    assert set(stored) == set(ids)
    for request in bank.received:  # resends: only ever the same id with the same body
        body = stored[request.webhook_id]
        if request.verdict == "truncated":  # killed mid-request: a prefix, refused
            assert body.startswith(request.body) and request.status == 400, f"seed {seed}"
        else:
            assert request.body == body and request.verdict in ("ok", "replayed"), f"seed {seed}"
    numbers = {json.loads(stored[i])["data"]["n"] for i in ids}
    assert numbers == set(range(len(ids)))
