"""Delivery to real receiving banks on loopback: retries, 410, a bank that comes back.

Every alert ends delivered exactly once per ``webhook-id`` (from the bank's side:
one verified delivery it processed), or shows as disabled or failed in the store.
"""

from __future__ import annotations

import threading

from ledger.alerts.destinations import Allowlist
from ledger.alerts.endpoints import endpoint_info, set_endpoint
from ledger.alerts.outbox import alerts_after
from tests.alerts._banks import Bank, always, fail_first
from tests.alerts.conftest import ONE_ATTEMPT, AlertEnv, alert, running
from tests.conftest import wait_until


def processed(bank: Bank) -> dict[str, int]:
    """Webhook id -> how many deliveries of it the bank verified, accepted and processed."""
    counts: dict[str, int] = {}
    for r in bank.received:
        if r.verdict == "ok" and 200 <= r.status < 300:
            counts[r.webhook_id] = counts.get(r.webhook_id, 0) + 1
    return counts


def test_three_banks_500_twice_410_and_down(env: AlertEnv) -> None:
    flaky = Bank(answer=fail_first(2, 500)).start()
    gone = Bank(answer=always(410)).start()
    down = Bank()  # its port stays closed until the test opens it
    for institution, bank in (("FLAKY", flaky), ("GONE", gone), ("DOWN", down)):
        env.add_bank(institution, bank)
    ids = {
        inst: env.enqueue(*(alert(inst, n) for n in range(4))) for inst in ("FLAKY", "GONE", "DOWN")
    }
    try:
        with running(env.dispatcher()):
            wait_until(lambda: all(env.status(i).attempts >= 2 for i in ids["DOWN"]))
            down.start()
            wait_until(lambda: env.states(ids["FLAKY"] + ids["DOWN"]) == ["delivered"] * 8)
            wait_until(lambda: env.states(ids["GONE"]) == ["disabled"] * 4)
    finally:
        for bank in (flaky, gone, down):
            bank.stop()

    # The bank that failed twice: three attempts per alert, the third one taken.
    assert processed(flaky) == dict.fromkeys(ids["FLAKY"], 1)
    for alert_id in ids["FLAKY"]:
        assert [r.status for r in flaky.requests_for(alert_id)] == [500, 500, 200]
        history = env.status(alert_id).history
        assert [(a.status_code, a.outcome) for a in history] == [
            (500, "retry"),
            (500, "retry"),
            (200, "delivered"),
        ]
        assert history[0].target == f"http://127.0.0.1:{flaky.port}"  # no path, no token

    # The bank that came back: refused connections first, then each alert once.
    assert processed(down) == dict.fromkeys(ids["DOWN"], 1)
    for alert_id in ids["DOWN"]:
        first = env.status(alert_id).history[0]
        assert first.status_code is None and first.outcome == "retry"
        assert "Connection refused" in (first.error or "")

    # The bank that answered 410: its endpoint is disabled, visibly, and nothing 2xx'd.
    info = endpoint_info(env.store, "GONE")
    assert info.status == "disabled" and "410" in (info.disabled_reason or "")
    assert processed(gone) == {} and {r.status for r in gone.received} == {410}
    assert len(gone.received) <= 4

    # Every request carried the body stored for its id, signed and fresh.
    for inst, bank in (("FLAKY", flaky), ("GONE", gone), ("DOWN", down)):
        with env.store.session() as s:
            stored = {a.id: a.body for a in alerts_after(s, inst, 0, 100)}
        assert set(stored) == set(ids[inst])  # nothing lost from the pull view either
        for r in bank.received:
            assert r.body == stored[r.webhook_id]
            assert r.verdict == "ok"


def test_a_disabled_bank_loses_nothing_when_it_is_set_again(env: AlertEnv) -> None:
    bank = Bank(answer=always(410)).start()
    env.add_bank("GONE", bank)
    first = env.enqueue(alert("GONE", 0))
    try:
        env.dispatcher().run(once=True)
        assert env.states(first) == ["disabled"]
        later = env.enqueue(alert("GONE", 1))  # written while disabled: never sent
        assert env.states(later) == ["disabled"]
        env.dispatcher().run(once=True)
        assert len(bank.received) == 1

        bank.answer = always(200)
        allow = Allowlist.parse(env.settings.alert_allow_hosts)
        info, issued = set_endpoint(env.store, env.sealer, "GONE", bank.url, allow=allow)
        assert info.status == "active" and issued is None  # same keys
        env.dispatcher().run(once=True)
    finally:
        bank.stop()
    assert env.states(first + later) == ["delivered", "delivered"]
    assert processed(bank) == dict.fromkeys(first + later, 1)


def test_retry_after_is_honoured(env: AlertEnv) -> None:
    bank = Bank(answer=fail_first(1, 503, **{"Retry-After": "1"})).start()
    env.add_bank("SLOW", bank)
    (alert_id,) = env.enqueue(alert("SLOW", 0))
    try:
        with running(env.dispatcher()):
            wait_until(lambda: env.states([alert_id]) == ["delivered"])
    finally:
        bank.stop()
    first, second = bank.requests_for(alert_id)
    # The schedule alone would retry after 10 ms; the bank asked for a second.
    assert second.at - first.at >= 1.0
    assert [a.status_code for a in env.status(alert_id).history] == [503, 200]


def test_the_schedule_runs_out_and_the_alert_shows_failed(env: AlertEnv) -> None:
    bank = Bank(answer=always(500)).start()
    env.add_bank("BROKEN", bank)
    (alert_id,) = env.enqueue(alert("BROKEN", 0))
    try:
        with running(env.dispatcher(alert_retry_schedule=(0.01, 0.01))):
            wait_until(lambda: env.states([alert_id]) == ["failed"])
    finally:
        bank.stop()
    status = env.status(alert_id)
    assert status.attempts == 3 and status.last_error == "HTTP 500"
    assert [a.outcome for a in status.history] == ["retry", "retry", "failed"]
    assert len(bank.requests_for(alert_id)) == 3


def test_a_slow_bank_times_out_and_is_retried(env: AlertEnv) -> None:
    hold = threading.Event()
    bank = Bank(hold=hold).start()
    env.add_bank("SLOW", bank)
    (alert_id,) = env.enqueue(alert("SLOW", 0))
    try:
        with running(env.dispatcher(alert_request_timeout=0.3)):
            wait_until(lambda: env.status(alert_id).attempts >= 1)
            hold.set()
            wait_until(lambda: env.states([alert_id]) == ["delivered"])
    finally:
        hold.set()
        bank.stop()
    first = env.status(alert_id).history[0]
    assert first.status_code is None and "no answer within 0.3 s" in (first.error or "")
    assert processed(bank) == {alert_id: 1}


def test_redirects_are_not_followed(env: AlertEnv) -> None:
    elsewhere = Bank().start()
    bank = Bank(answer=always(307, Location=elsewhere.url)).start()
    env.add_bank("MOVED", bank)
    (alert_id,) = env.enqueue(alert("MOVED", 0))
    try:
        env.dispatcher(**ONE_ATTEMPT).run(once=True)
    finally:
        bank.stop()
        elsewhere.stop()
    assert [a.status_code for a in env.status(alert_id).history] == [307]
    assert env.states([alert_id]) == ["pending"]  # a failure, retried later
    assert elsewhere.connections == 0


def test_banks_without_an_endpoint_are_not_pushed(env: AlertEnv) -> None:
    env.add_partner("PULLS")
    ids = env.enqueue(alert("PULLS", 0))
    assert env.dispatcher().run(once=True) == {}
    with env.store.session() as s:
        assert [a.id for a in alerts_after(s, "PULLS", 0, 10)] == ids
