"""Reading alerts with their states, and replaying one to a bank that lost it."""

from __future__ import annotations

import pytest

from ledger.alerts.errors import NoEndpointError, UnknownAlertError
from ledger.alerts.outbox import acknowledge
from ledger.alerts.replay import replay
from ledger.alerts.views import any_alert, bank_alert, bank_page, every_bank_page
from ledger.errors import ConflictError
from tests.alerts._banks import Bank, always
from tests.alerts.conftest import ONE_ATTEMPT, AlertEnv, alert, running
from tests.conftest import wait_until


def test_pages_carry_delivery_and_ack_and_stay_with_their_bank(env: AlertEnv) -> None:
    bank = Bank().start()
    try:
        env.add_bank("PUSHED", bank)
        env.add_partner("PULLS")
        pushed = env.enqueue(alert("PUSHED", 1), alert("PUSHED", 2))
        pulled = env.enqueue(alert("PULLS", 1))
        with env.store.session() as s, s.begin():
            acknowledge(s, "PULLS", pulled[0], by="desk", note="seen")
        env.dispatcher(**ONE_ATTEMPT).run(once=True)
    finally:
        bank.stop()
    with env.store.session() as s:
        views = bank_page(s, "PUSHED", 0, 10)
        assert [v.alert.id for v in views] == pushed
        assert [(v.delivery and v.delivery.state, v.ack) for v in views] == [
            ("delivered", None)
        ] * 2
        (theirs,) = bank_page(s, "PULLS", 0, 10)
        assert theirs.delivery is None  # no endpoint: it pulls
        assert theirs.ack is not None and (theirs.ack.acknowledged_by, theirs.ack.note) == (
            "desk",
            "seen",
        )
        every = every_bank_page(s, 0, 10)
        assert [v.alert.id for v in every] == pushed + pulled
        assert [v.alert.id for v in every_bank_page(s, every[0].alert.seq, 1)] == pushed[1:]
        detail = bank_alert(s, "PUSHED", pushed[0])
        assert [(a.attempt, a.outcome) for a in detail.history] == [(1, "delivered")]
        assert detail.to_json()["attempts"][0]["status_code"] == 200
        assert any_alert(s, pulled[0]).view.alert.institution == "PULLS"
        with pytest.raises(UnknownAlertError):
            bank_alert(s, "PULLS", pushed[0])  # another bank's: as if it did not exist
        with pytest.raises(UnknownAlertError):
            any_alert(s, "msg_" + "0" * 32)


def test_replay_sends_the_same_alert_again_under_the_same_id(env: AlertEnv) -> None:
    bank = Bank().start()
    try:
        env.add_bank("LOSTIT", bank)
        (alert_id,) = env.enqueue(alert("LOSTIT", 1))
        with running(env.dispatcher()):
            wait_until(lambda: env.status(alert_id).state == "delivered")
            first = [r for r in bank.received if r.webhook_id == alert_id]
            bank.receiver = None  # the bank lost its store, and the ids it had seen
            with env.store.session() as s, s.begin():
                done = replay(s, alert_id)
            assert (done.outcome, done.previous) == ("queued", "delivered")
            wait_until(lambda: len(bank.requests_for(alert_id)) == 2)
            wait_until(lambda: env.status(alert_id).state == "delivered")
    finally:
        bank.stop()
    again = bank.requests_for(alert_id)[1]
    assert (again.webhook_id, again.body) == (first[0].webhook_id, first[0].body)
    history = env.status(alert_id).history
    assert [a.outcome for a in history] == ["delivered", "delivered"]


def test_replay_of_a_queued_alert_changes_nothing(env: AlertEnv) -> None:
    env.add_bank("WAITING", Bank())  # never started: nothing is sent in this test
    (alert_id,) = env.enqueue(alert("WAITING", 1))
    with env.store.session() as s, s.begin():
        done = replay(s, alert_id)
    assert (done.outcome, done.previous) == ("already_queued", "pending")
    assert env.status(alert_id).attempts == 0


def test_replay_refuses_what_it_cannot_send(env: AlertEnv) -> None:
    env.add_partner("PULLS")
    (pulled,) = env.enqueue(alert("PULLS", 1))
    gone = Bank(answer=always(410)).start()
    try:
        env.add_bank("GONE", gone)
        (disabled,) = env.enqueue(alert("GONE", 1))
        env.dispatcher(**ONE_ATTEMPT).run(once=True)
    finally:
        gone.stop()
    assert env.status(disabled).state == "disabled"
    with env.store.session() as s:
        with pytest.raises(NoEndpointError) as no_endpoint:
            replay(s, pulled)
        assert "after=" in (no_endpoint.value.hint or "")
        with pytest.raises(ConflictError) as off:
            replay(s, disabled)
        assert "webhook set" in (off.value.hint or "")
        with pytest.raises(UnknownAlertError):
            replay(s, "msg_" + "0" * 32)
