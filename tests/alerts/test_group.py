"""The batches of one transaction derived ahead, on the ahead thread, give what deriving
them one after another in that transaction gives: the same alerts in the same order,
the same stored states, the same book figures; also when a batch is stored with fewer
records than it was queued with, or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.alerts.derive import Deriver, GroupDerivation
from ledger.alerts.events import FACTS, risk_facts
from ledger.alerts.payloads import loan_refs
from ledger.alerts.plan import Plan
from ledger.ingest.store import ahead
from ledger.store import Store
from ledger.store.accounts import ID, states_of
from tests.alerts.conftest import funder_lists
from tests.alerts.test_events import output
from tests.alerts.test_portfolio import REGISTRY, Outbox

BANKS = ("91310000MA1FL0001X", "91110000MA0000002Y")
ACCOUNTS = [f"0x{i:064x}" for i in range(1, 7)]
ROOT = "0x" + "77" * 32

_record = st.fixed_dictionaries(
    {
        "account_pseudonym": st.sampled_from(ACCOUNTS),
        "period": st.sampled_from(["2024-01", "2024-02", "2024-03"]),
        "days_past_due": st.sampled_from([0, 0, 3, 35, 70, 100, 200]),
        "account_status": st.sampled_from(["1", "2", "4", "31"]),
        "five_class": st.sampled_from(["1", "2", "3", "5"]),
        "balance": st.sampled_from(["1000.00", "250.50"]),
        "overdue_amount": st.sampled_from(["0.00", "12.30"]),
        "funders": funder_lists(BANKS, max_size=2),
    }
)
#: How each batch is stored: as queued, with some of its records (the others were
#: duplicates), or not at all.
_FATE = st.sampled_from(["whole", "whole", "whole", "fewer", "none"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store.open(tmp_path_factory.mktemp("group"))
    yield opened
    opened.close()


def facts_of(records: list[dict[str, Any]], first_row: int) -> pl.DataFrame:
    if not records:
        return pl.DataFrame(schema=FACTS)
    frame = output(*records).with_columns(pl.col("row") + first_row - 1)
    facts = risk_facts(frame, pl.Series([f"ab{i:062x}" for i in range(frame.height)]))
    assert facts is not None
    return facts


def derived(
    store: Store,
    earlier: pl.DataFrame,
    batches: list[pl.DataFrame],
    fates: list[str],
    ahead_of_time: bool,
) -> tuple[list[Any], list[dict[str, Any]], list[Any]]:
    """Alerts, stored states and book alerts of ``batches`` after ``earlier``, in one
    transaction that is rolled back."""
    sink = Outbox()
    deriver = Deriver(Plan.load(), loan_refs(b"k" * 32), sink, registry=REGISTRY)
    with store.session() as s:
        s.begin()
        deriver.derive(s, "0x" + "e0" * 32, ROOT, earlier)  # states stored before
        stored = []
        for index, (facts, fate) in enumerate(zip(batches, fates, strict=True)):
            kept = facts.filter(pl.col("row") % 2 == 0) if fate == "fewer" else facts
            stored.append((f"0xba{index:062x}" if fate != "none" else None, kept))
        if ahead_of_time:
            group = GroupDerivation(deriver, s, batches, ahead)
            for batch_id, kept in stored:
                group.stored(s, batch_id, ROOT, kept)
            group.put_states(s)
        else:
            for batch_id, kept in stored:
                if batch_id is not None:
                    deriver.derive(s, batch_id, ROOT, kept)
        per_loan = list(sink.alerts)
        deriver.finish(s)
        book = sink.alerts[len(per_loan) :]
        states = states_of(s, ACCOUNTS).drop(ID).sort("account").to_dicts()
        s.rollback()
    return per_loan, states, book


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(_record, max_size=4),
    st.lists(st.tuples(st.lists(_record, max_size=6), _FATE), min_size=1, max_size=4),
)
def test_a_group_derived_ahead_is_the_batches_derived_one_after_another(
    store: Store,
    earlier: list[dict[str, Any]],
    queued: list[tuple[list[dict[str, Any]], str]],
) -> None:
    first = facts_of(earlier, 1)
    batches, row = [], 100
    for records, _ in queued:
        batches.append(facts_of(records, row))
        row += len(records) + 1
    fates = [fate for _, fate in queued]
    one_by_one = derived(store, first, batches, fates, ahead_of_time=False)
    in_a_group = derived(store, first, batches, fates, ahead_of_time=True)
    assert in_a_group == one_by_one


def test_an_account_in_every_batch_is_compared_with_the_batch_before(store: Store) -> None:
    """A worked case: one loan rolls over three batches of one group."""
    loan = {"account_pseudonym": ACCOUNTS[0], "funders": [{"org_code": BANKS[0], "share_bp": 5000}]}
    batches = [
        facts_of([{**loan, "period": f"2024-0{m}", "days_past_due": dpd}], row)
        for m, dpd, row in ((1, 0, 1), (2, 10, 2), (3, 40, 3))
    ]
    per_loan, states, _ = derived(store, facts_of([], 1), batches, ["whole"] * 3, True)
    assert [(a.event_type, a.data["days_past_due"]) for a in per_loan] == [
        ("overdue.entered", 10),
        ("overdue.bucket_rolled", 40),
    ]
    assert [(s["period"], s["dpd"]) for s in states] == [("2024-03", 40)]
    assert per_loan == derived(store, facts_of([], 1), batches, ["whole"] * 3, False)[0]
