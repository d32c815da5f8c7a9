"""The outbox's store functions: enqueue in the caller's transaction, pull, acknowledge."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from ledger.alerts.errors import UnknownAlertError
from ledger.alerts.outbox import (
    MAX_BODY_BYTES,
    MAX_PAGE,
    NewAlert,
    acknowledge,
    alerts_after,
    enqueue,
    get_alert,
    new_alert_ids,
)
from ledger.errors import InputError
from ledger.proofs import CanonicalFormError
from ledger.store import Batch
from ledger.store.alerts import Alert, AlertDelivery
from tests.alerts._banks import Bank
from tests.alerts.conftest import BATCH, AlertEnv, add_batch, alert

NOW = datetime(2026, 11, 26, 4, 0, 0, tzinfo=UTC)


def test_enqueue_writes_the_envelope_once_in_rfc_8785_form(env: AlertEnv) -> None:
    data = {"loan_ref": "r-1", "days_past_due": 31, "share_bp": 4000, "balance": "1200.50"}
    with env.store.session() as s, s.begin():
        (alert_id,) = enqueue(s, [NewAlert("BANK1", "overdue.entered", data, BATCH)], now=NOW)
    with env.store.session() as s:
        stored = get_alert(s, "BANK1", alert_id)
    expected = {"data": data, "timestamp": "2026-11-26T04:00:00Z", "type": "overdue.entered"}
    assert stored.body == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
    assert stored.envelope() == expected
    assert (stored.type, stored.batch_id, stored.created_at) == (
        "overdue.entered",
        BATCH,
        "2026-11-26T04:00:00Z",
    )
    assert alert_id.startswith("msg_") and "." not in alert_id


def test_enqueue_commits_with_the_callers_transaction_or_not_at_all(env: AlertEnv) -> None:
    with env.store.session() as s:
        with s.begin():
            enqueue(s, [alert("BANK1", 1)])
            s.rollback()
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
    with pytest.raises(InputError), env.store.session() as s, s.begin():
        enqueue(s, [alert("BANK1", 1), NewAlert("BANK1", "overdue.entered", {"x": 1.5}, None)])
    with env.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 0  # none of the two


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (NewAlert("bad code!", "overdue.entered", {}, None), InputError),
        (NewAlert("", "overdue.entered", {}, None), InputError),
        (NewAlert("BANK1", "Overdue Entered", {}, None), InputError),
        (NewAlert("BANK1", "overdue..entered", {}, None), InputError),
        (NewAlert("BANK1", "overdue.entered", {}, "0x12"), InputError),
        (NewAlert("BANK1", "overdue.entered", {"amount": 1.5}, None), CanonicalFormError),
        (NewAlert("BANK1", "overdue.entered", {"x": "y" * MAX_BODY_BYTES}, None), InputError),
    ],
)
def test_enqueue_refuses_bad_alerts(env: AlertEnv, bad: NewAlert, error: type[Exception]) -> None:
    with pytest.raises(error), env.store.session() as s, s.begin():
        enqueue(s, [bad])


def test_only_banks_with_an_endpoint_get_a_delivery_row(env: AlertEnv) -> None:
    env.add_bank("PUSHED", Bank())
    env.add_partner("PULLS")
    pushed, pulled = env.enqueue(alert("PUSHED", 1), alert("PULLS", 2))
    with env.store.session() as s:
        rows = {d.alert_id: d.state for d in s.scalars(select(AlertDelivery))}
    assert rows == {pushed: "pending"}
    assert pulled not in rows


def test_alerts_after_pages_one_banks_alerts_by_cursor(env: AlertEnv) -> None:
    ids = env.enqueue(*(alert("A" if n % 2 else "B", n) for n in range(7)))
    mine = [i for n, i in enumerate(ids) if n % 2]
    with env.store.session() as s:
        first = alerts_after(s, "A", 0, 2)
        rest = alerts_after(s, "A", first[-1].seq, MAX_PAGE)
        assert [a.id for a in first + rest] == mine
        assert all(a.institution == "A" for a in first + rest)
        assert alerts_after(s, "A", rest[-1].seq, 10) == []
        assert alerts_after(s, "C", 0, 10) == []
        for cursor, limit in ((-1, 10), (0, 0), (0, MAX_PAGE + 1)):
            with pytest.raises(InputError):
                alerts_after(s, "A", cursor, limit)


def test_a_deleted_last_alert_leaves_its_sequence_number_unused(env: AlertEnv) -> None:
    (first,) = env.enqueue(alert("A", 1))
    with env.store.session() as s, s.begin():
        seq = get_alert(s, "A", first).seq
        s.execute(delete(Alert).where(Alert.id == first))
    (second,) = env.enqueue(alert("A", 2))
    with env.store.session() as s:
        assert get_alert(s, "A", second).seq > seq  # a reader at `after=seq` still sees it
        assert [a.id for a in alerts_after(s, "A", seq, 10)] == [second]


def test_acknowledge_records_the_first_acknowledgement(env: AlertEnv) -> None:
    (alert_id,) = env.enqueue(alert("A", 1))
    with env.store.session() as s, s.begin():
        ack = acknowledge(s, "A", alert_id, by="risk-desk", note="called the borrower", now=NOW)
    assert ack.first and ack.acknowledged_at == "2026-11-26T04:00:00Z"
    with env.store.session() as s, s.begin():
        again = acknowledge(s, "A", alert_id, by="someone-else")
    assert not again.first
    assert (again.acknowledged_by, again.note, again.acknowledged_at) == (
        "risk-desk",
        "called the borrower",
        "2026-11-26T04:00:00Z",
    )


def test_unknown_and_other_banks_alerts_get_the_same_answer(env: AlertEnv) -> None:
    (theirs,) = env.enqueue(alert("B", 1))
    unknown = "msg_" + "0" * 32
    messages = []
    for alert_id in (theirs, unknown):
        with pytest.raises(UnknownAlertError) as caught, env.store.session() as s, s.begin():
            acknowledge(s, "A", alert_id, by="risk-desk")
        messages.append(caught.value.message.replace(alert_id, "ID"))
        with pytest.raises(UnknownAlertError), env.store.session() as s:
            get_alert(s, "A", alert_id)
    assert messages[0] == messages[1]  # nothing tells A that B's alert exists
    with pytest.raises(UnknownAlertError) as caught, env.store.session() as s, s.begin():
        acknowledge(s, "A", "110101199003077777 or anything", by="risk-desk")
    assert "110101" not in caught.value.message  # an id that cannot be ours is not echoed


def test_acknowledge_refuses_bad_input(env: AlertEnv) -> None:
    (alert_id,) = env.enqueue(alert("A", 1))
    with env.store.session() as s:
        with pytest.raises(InputError):
            acknowledge(s, "A", alert_id, by="")
        with pytest.raises(InputError):
            acknowledge(s, "A", alert_id, by="desk", note="x" * 201)


def test_nothing_reaches_a_bank_before_its_batch_is_anchored(env: AlertEnv) -> None:
    """A batch's alerts are queued with it (pending) and released with its anchor: not
    pushed, not pulled, not shown; a pull stops before the first one held back."""
    bank = Bank().start()
    try:
        env.add_bank("PUSHED", bank)
        pending = "0x" + "5e" * 32
        add_batch(env.store, pending, "pending")
        early = env.enqueue(alert("PUSHED", 0))
        held = env.enqueue(NewAlert("PUSHED", "overdue.entered", {"n": 1}, pending))
        late = env.enqueue(alert("PUSHED", 2))
        assert env.dispatcher().run(once=True)["delivered"] == 2  # the two released ones
        assert {r.webhook_id for r in bank.received} == {early[0], late[0]}
        with env.store.session() as s:
            assert [a.id for a in alerts_after(s, "PUSHED", 0, 10)] == early  # stops before
            with pytest.raises(UnknownAlertError):
                get_alert(s, "PUSHED", held[0])
        with env.store.session() as s, s.begin():
            s.get_one(Batch, pending).status = "anchored"
        assert env.dispatcher().run(once=True)["delivered"] == 1
        assert held[0] in {r.webhook_id for r in bank.received}
        with env.store.session() as s:
            assert [a.id for a in alerts_after(s, "PUSHED", 0, 10)] == early + held + late
    finally:
        bank.stop()


def test_alert_ids_are_unique_and_ordered_by_time() -> None:
    first = new_alert_ids(500)
    assert all(re.fullmatch(r"msg_[0-9a-f]{32}", alert_id) for alert_id in first)
    assert len(set(first)) == len(first)
    start = time.monotonic()
    while (later := new_alert_ids(1)[0])[4:16] == first[0][4:16]:  # the next millisecond
        assert time.monotonic() - start < 5
    assert later > max(first)
