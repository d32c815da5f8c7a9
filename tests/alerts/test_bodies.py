"""Derived alerts are queued column-wise: the bytes are those the one-by-one outbox writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.alerts.events import risk_facts, transitions
from ledger.alerts.outbox import DATA, enqueue, enqueue_frame
from ledger.alerts.payloads import bank_alerts, loan_refs
from ledger.alerts.plan import Plan
from ledger.proofs import CanonicalFormError
from ledger.store import Store
from ledger.store.alerts import Alert
from tests.alerts.conftest import as_new_alerts, funder_lists
from tests.alerts.test_events import output

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BANKS = ("91310000MA1FL0001X", "91110000MA0000002Y", "91440300MA5D00003Q")
ANCHOR = {"chain_id": 1337, "registry": "0x" + "12" * 20, "kind": 1, "root": "0x" + "77" * 32}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


def _bodies(store: Store) -> list[bytes]:
    with store.session() as s:
        return list(s.scalars(select(Alert.body).order_by(Alert.seq)))


money = st.builds(lambda c: f"{c // 100}.{c % 100:02d}", st.integers(0, 10**11 - 1))
record = st.fixed_dictionaries(
    {
        "account_pseudonym": st.sampled_from(["0x" + d * 64 for d in "abc"]),
        "period": st.sampled_from(["2024-01", "2024-02", "2024-03"]),
        "days_past_due": st.integers(0, 400),
        "account_status": st.sampled_from(list("12345678")),
        "five_class": st.sampled_from(list("123459")),
        "balance": money,
        "overdue_amount": money,
        "overdue_principal_31_60": st.none() | money,
        "funders": funder_lists(BANKS, max_size=3),
    }
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record, min_size=1, max_size=12))
def test_frame_bodies_are_the_bytes_enqueue_writes(
    store: Store, records: list[dict[str, Any]]
) -> None:
    facts = risk_facts(output(*records), pl.Series(["cd" * 32] * len(records)))
    assert facts is not None
    alerts = bank_alerts(
        transitions(facts, []), Plan.load(), loan_refs(b"k" * 32), "0x" + "ba" * 32, ANCHOR
    )
    before = len(_bodies(store))
    with store.session() as s, s.begin():
        enqueue_frame(s, alerts, now=NOW)
        enqueue(s, as_new_alerts(alerts), now=NOW)
    bodies = _bodies(store)[before:]
    half = len(bodies) // 2
    assert half == alerts.height
    assert bodies[:half] == bodies[half:]  # column-wise == one by one, byte for byte


def test_data_without_a_canonical_form_is_refused_before_anything_is_added(store: Store) -> None:
    base = {"institution": [BANKS[0]], "event_type": ["overdue.entered"], "batch_id": [None]}
    for data, reason in (({"amount": 1.5}, "RFC 8785"), ({"n": -(2**53)}, r"2\*\*53")):
        frame = pl.DataFrame({**base, DATA: [data]}, schema_overrides={"batch_id": pl.String})
        with store.session() as s, s.begin(), pytest.raises(CanonicalFormError, match=reason):
            enqueue_frame(s, frame, now=NOW)
    assert _bodies(store) == []


def test_integers_that_are_all_null_are_no_obstacle(store: Store) -> None:
    frame = pl.DataFrame(
        {"institution": [BANKS[0]], "event_type": ["overdue.entered"], "batch_id": [None],
         DATA: [{"from": None}]},
        schema_overrides={"batch_id": pl.String, DATA: pl.Struct({"from": pl.Int64})},
    )  # fmt: skip
    with store.session() as s, s.begin():
        assert enqueue_frame(s, frame, now=NOW) == 1
    assert _bodies(store) == [
        b'{"data":{"from":null},"timestamp":"2026-12-07T10:00:00Z","type":"overdue.entered"}'
    ]
