"""The monitoring figures and ``summarize``, over real submissions of a co-funded book."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ledger.alerts.destinations import Allowlist
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.figures import alert_figures, book_by_severity
from ledger.alerts.monitoring import anchor_lags, consent_checks, submissions
from ledger.alerts.outbox import acknowledge, alerts_after
from ledger.alerts.plan import Plan
from ledger.alerts.sealing import Sealer
from ledger.alerts.summary import summarize
from ledger.consent import InquiryLog
from ledger.consent.reasons import ANOMALIES, REASONS, TAMPERED
from ledger.records import write_jsonl
from ledger.store.apikeys import create_key
from ledger.wiring import Ledger
from tests._alert_book import BANK_A, BANK_B, february, january
from tests.alerts.test_submit_alerts import ledger as ledger  # the fixture


def _submit_book(ledger: Ledger, tmp_path: Path) -> None:
    for name, rows in (("jan", january()), ("feb", february())):
        write_jsonl(rows, tmp_path / f"{name}.jsonl")
        report = ledger.submitter().submit(tmp_path / f"{name}.jsonl")
        assert report.accepted == len(rows)


def _inquiries(ledger: Ledger, *outcomes: tuple[str, str, str]) -> None:
    log = InquiryLog(ledger.store, submitter="test", key_ids={})
    for institution, result, reason in outcomes:
        log.log(
            institution=institution, requested_by="k", subject_pseudonym="0x" + "11" * 32,
            purpose="LOAN_APPROVAL", consent_id=None, result=result, reason=reason,
            checked_at=datetime.now(UTC),
        )  # fmt: skip


def test_anomalies_are_the_tampering_reasons_of_the_consent_checks() -> None:
    assert frozenset(TAMPERED) & frozenset(REASONS) == ANOMALIES
    assert {"receipt_mismatch", "receipt_id_mismatch"} == ANOMALIES


def test_figures_count_each_banks_alerts_by_type_state_and_ack(
    ledger: Ledger, tmp_path: Path
) -> None:
    create_key(ledger.store, "bank-a", "partner", institution=BANK_A)
    allow = Allowlist.parse(("127.0.0.1",))
    sealer = Sealer.for_data_dir(ledger.settings.data_dir)
    set_endpoint(ledger.store, sealer, BANK_A, "http://127.0.0.1:9/hook", allow=allow)
    _submit_book(ledger, tmp_path)
    with ledger.store.session() as s, s.begin():
        first_b = alerts_after(s, BANK_B, 0, 1)[0]
        acknowledge(s, BANK_B, first_b.id, by="desk")
    with ledger.store.session() as s:
        banks = alert_figures(s)
        every = {b: alerts_after(s, b, 0, 1000) for b in (BANK_A, BANK_B)}
    assert set(banks) == {BANK_A, BANK_B}
    for code, alerts in every.items():
        figures = banks[code]
        assert sum(figures.written.values()) == len(alerts)
        assert figures.written["overdue.entered"] == 2 == figures.written["overdue.bucket_rolled"]
        assert figures.level == 3
    a, b = banks[BANK_A], banks[BANK_B]
    assert a.endpoint == "active" and b.endpoint is None
    assert a.by_state()["pending"] == len(every[BANK_A]) and a.by_state()["pulled"] == 0
    assert b.by_state()["pulled"] == len(every[BANK_B])
    assert a.oldest_pending_at == every[BANK_A][0].created_at and b.oldest_pending_at is None
    assert (b.open, sum(b.acked.values()), b.acked[first_b.type]) == (len(every[BANK_B]) - 1, 1, 1)
    assert b.oldest_open_at is not None and a.open == len(every[BANK_A])


def test_book_by_severity_uses_the_plans_rule(ledger: Ledger, tmp_path: Path) -> None:
    _submit_book(ledger, tmp_path)
    plan = Plan.load()
    with ledger.store.session() as s:
        books = book_by_severity(s, plan)
    # In February every loan is 40 days past due: the plan's "warning".
    assert plan.severity(40) == "warning"
    assert {code: set(book) for code, book in books.items()} == {
        BANK_A: {"warning"},
        BANK_B: {"warning"},
    }
    assert books[BANK_A]["warning"]["loans"] == 2 == books[BANK_B]["warning"]["loans"]


def test_before_and_during_figures(ledger: Ledger, tmp_path: Path) -> None:
    _submit_book(ledger, tmp_path)
    _inquiries(
        ledger,
        (BANK_A, "granted", "valid"),
        (BANK_A, "refused", "no_consent"),
        (BANK_A, "refused", "receipt_mismatch"),
        (BANK_B, "refused", "expired"),
    )
    now = datetime.now(UTC)
    with ledger.store.session() as s:
        checks = consent_checks(s)
        done = submissions(s)
        lags = {lag.kind: lag for lag in anchor_lags(s)}
        summary = summarize(s, Plan.load(), now=now).to_json()
    assert checks == {
        BANK_A: {"granted": 1, "no_consent": 1, "receipt_mismatch": 1},
        BANK_B: {"expired": 1},
    }
    assert [(x.accepted, x.rejected, x.rejection_rate) for x in done] == [(3, 0, 0.0)] * 2
    assert lags[1].pending == 0 and lags[1].last_anchored_lag_seconds is not None
    assert lags[1].pending_seconds(now) == 0.0
    banks = {b["institution"]: b for b in summary["banks"]}
    assert banks[BANK_A]["consent_checks"] == {
        "granted": 1,
        "refused": 2,
        "refusals": {"no_consent": 1, "receipt_mismatch": 1},
        "anomalies": 1,
    }
    assert banks[BANK_A]["level_name"] == "emergency" and banks[BANK_A]["book"]
    assert banks[BANK_A]["level_under_plan_in_force"] is True
    assert len(summary["submissions"]) == 2 and summary["anchor_lag"][0]["kind"] == 1
