"""``ledger partner webhook set|rotate|test`` and ``ledger alerts dispatch``, as installed."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.alerts.outbox import enqueue
from ledger.client import WebhookReceiver
from ledger.store import Store
from tests._keys import api_key
from tests.alerts._banks import Bank
from tests.alerts.conftest import BATCH, add_batch, alert
from tests.cli._cli import one_error_line, run

INSTITUTION = "91350211MA2XYZ1234"


def _env(data_dir: Path) -> dict[str, str]:
    return {
        "LEDGER_DATA_DIR": str(data_dir),
        "LEDGER_ALERT_ALLOW_HOSTS": '["127.0.0.1"]',
        "LEDGER_ALERT_RETRY_SCHEDULE": "[0.01]",
        "LEDGER_ALERT_REQUEST_TIMEOUT": "5",
    }


def _partner(env: dict[str, str]) -> None:
    """The bank's partner key (setup: ``ledger partner add`` is tested elsewhere)."""
    api_key(Path(env["LEDGER_DATA_DIR"]), "bank-a", "partner", institution=INSTITUTION)


def test_set_rotate_test_and_dispatch(data_dir: Path) -> None:
    env = _env(data_dir)
    _partner(env)
    bank = Bank().start()
    try:
        done = run("partner", "webhook", "set", INSTITUTION, bank.url, "--json", env=env)
        assert done.returncode == 0, done.stderr
        first = json.loads(done.stdout)
        issued = first["issued"]
        assert issued["secret"].startswith("whsec_") and first["status"] == "active"
        assert first["public_keys"] == [issued["public_key"]]
        bank.receiver = WebhookReceiver(secret=issued["secret"])

        done = run("partner", "webhook", "set", INSTITUTION, bank.url, env=env)
        assert done.returncode == 0 and "signing keys unchanged" in done.stdout
        assert "whsec_" not in done.stdout  # a secret is shown once

        done = run("partner", "webhook", "test", INSTITUTION, env=env)
        assert done.returncode == 0, done.stderr
        assert f"ping to http://127.0.0.1:{bank.port}: HTTP 200" in done.stdout
        assert "token" not in done.stdout  # the URL's query is not printed
        (ping,) = bank.received
        assert ping.verdict == "ok" and json.loads(ping.body)["type"] == "ping"

        done = run("partner", "webhook", "rotate", INSTITUTION, "--grace", "3600", env=env)
        assert done.returncode == 0 and "generation 2" in done.stdout, done.stderr
        new_secret = done.stdout.split("secret (v1 HMAC):")[1].split()[0]
        assert new_secret.startswith("whsec_") and new_secret != issued["secret"]

        store = Store.open(data_dir)
        try:
            add_batch(store, BATCH, "anchored")  # the alerts' batch: anchored, so they go out
            with store.session() as s, s.begin():
                ids = enqueue(s, [alert(INSTITUTION, n) for n in range(3)])
        finally:
            store.close()
        bank.receiver = WebhookReceiver(secret=new_secret)  # the bank moved to the new key
        done = run("alerts", "dispatch", "--once", "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"delivered": 3, "retry": 0, "failed": 0, "disabled": 0}
        assert {r.webhook_id for r in bank.received if r.verdict == "ok"} >= set(ids)
        # During the grace period both generations sign every delivery.
        assert all(r.signature.count("v1,") == 2 for r in bank.received[1:])
    finally:
        bank.stop()


def test_bad_input_gets_one_line_and_a_non_zero_exit(data_dir: Path) -> None:
    env = _env(data_dir)
    line = one_error_line(
        run("partner", "webhook", "set", INSTITUTION, "https://b.example/", env=env)
    )
    assert "no partner key" in line
    _partner(env)
    for url in ("http://bank.example/hook", "https://169.254.169.254/", "not a url"):
        done = run("partner", "webhook", "set", INSTITUTION, url, env=env)
        assert done.returncode == 2
        one_error_line(done)
    for command in ("rotate", "test"):
        line = one_error_line(run("partner", "webhook", command, INSTITUTION, env=env))
        assert "no webhook endpoint" in line
    line = one_error_line(run("partner", "webhook", "set", "bad code!", "https://b/", env=env))
    assert "institution code" in line


def test_a_ping_to_a_bank_that_is_down_fails_in_one_line(data_dir: Path) -> None:
    env = _env(data_dir)
    _partner(env)
    down = Bank()  # never started: its port refuses connections
    assert run("partner", "webhook", "set", INSTITUTION, down.url, env=env).returncode == 0
    done = run("partner", "webhook", "test", INSTITUTION, env=env)
    assert done.returncode == 1
    line = one_error_line(done)
    assert f"ping to http://127.0.0.1:{down.port} failed" in line and "token" not in line
