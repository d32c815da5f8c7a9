"""Each bank's co-funded book against the risk plan's thresholds, once per submission.

Figures per bank, each loan weighted by the bank's share (``share_bp``):

- ``m1_plus_balance_ratio`` / ``m2_plus_balance_ratio``: the balance 1+ / 31+
  days past due over the whole balance, from every co-funded account's stored
  state (the book after the submission);
- ``m1_m2_roll_rate``: of the balance that was in band 1 (1-30 days) before a
  record of this submission, the share that this record puts in band 2;
- ``new_critical_alerts``: loans this submission took to the plan's critical
  severity or beyond.

A threshold above its bound raises ``portfolio.threshold_breached`` to that
bank; the highest level its breaches name (1 when none) is the bank's plan
level, and a change of level, or of the plan in force, raises
``plan.level_changed`` with the actions the new level names.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Final

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.alerts.events import ENGINE
from ledger.alerts.outbox import NewAlert
from ledger.alerts.plan import Plan
from ledger.records.frame import FUNDER
from ledger.store.accounts import BankLevel, book

THRESHOLD_BREACHED: Final = "portfolio.threshold_breached"
LEVEL_CHANGED: Final = "plan.level_changed"
_BP: Final = 10_000.0
#: Days past due from which a loan is M2+ (band 2 of the repayment codes: 31-60).
M2_FROM_DPD: Final = 31


def _shares(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (record, funder): ``org_code`` and ``weight`` (share as a fraction)."""
    return _shares_plan(frame.lazy()).collect(engine=ENGINE)


def _shares_plan(frame: pl.LazyFrame) -> pl.LazyFrame:
    return (
        frame.explode("funders")
        .drop_nulls("funders")
        .unnest("funders")
        .with_columns((pl.col("share_bp") / _BP).alias("weight"))
    )


def moves_plan(compared: pl.LazyFrame, critical_dpd: int | None) -> pl.LazyFrame:
    """Per bank, what a batch's records (:func:`~ledger.alerts.events.compared` with
    their past) did to its book: ``org_code``, ``was``, ``rolled``, ``critical``
    (for :meth:`BookMoves.add`)."""
    money = pl.col("prev_balance").cast(pl.Float64, strict=False).fill_null(0.0)
    critical = (
        (pl.col("dpd") >= critical_dpd)
        & (pl.col("prev_dpd").is_null() | (pl.col("prev_dpd") < critical_dpd))
        if critical_dpd is not None
        else pl.lit(False)
    )
    return (
        _shares_plan(compared)
        .group_by("org_code")
        .agg(
            (money * pl.col("weight")).filter(pl.col("prev_bucket") == 1).sum().alias("was"),
            (money * pl.col("weight"))
            .filter((pl.col("prev_bucket") == 1) & (pl.col("bucket") == 2))
            .sum()
            .alias("rolled"),
            critical.sum().alias("critical"),
        )
    )


class BookMoves:
    """What one submission's records did to each bank's book (summed over its batches)."""

    def __init__(self) -> None:
        self.was_band_1: defaultdict[str, float] = defaultdict(float)
        self.rolled_1_2: defaultdict[str, float] = defaultdict(float)
        self.new_critical: Counter[str] = Counter()

    def add(self, per_bank: pl.DataFrame) -> None:
        """Count a batch's moves (a collected :func:`moves_plan`)."""
        for bank, was, rolled, new_critical in per_bank.select(
            "org_code", "was", "rolled", "critical"
        ).iter_rows():
            self.was_band_1[bank] += was
            self.rolled_1_2[bank] += rolled
            self.new_critical[bank] += new_critical


def figures(s: Session, moves: BookMoves) -> dict[str, dict[str, float]]:
    """Each bank's figures (the plan's metric names), from its book and this submission."""
    held = book(s)
    out: dict[str, dict[str, float]] = {}
    if not held.is_empty():
        frame = held.with_columns(pl.col("funders").str.json_decode(pl.List(FUNDER)))
        money = pl.col("balance").cast(pl.Float64, strict=False).fill_null(0.0) * pl.col("weight")
        per_bank = (
            _shares(frame)
            .group_by("org_code")
            .agg(
                money.sum().alias("total"),
                money.filter(pl.col("dpd") >= 1).sum().alias("m1"),
                money.filter(pl.col("dpd") >= M2_FROM_DPD).sum().alias("m2"),
            )
        )
        for bank, total, m1, m2 in per_bank.iter_rows():
            out[bank] = {
                "m1_plus_balance_ratio": m1 / total if total else 0.0,
                "m2_plus_balance_ratio": m2 / total if total else 0.0,
            }
    for bank in set(out) | set(moves.was_band_1) | set(moves.new_critical):
        was = moves.was_band_1.get(bank, 0.0)
        entry = out.setdefault(bank, {"m1_plus_balance_ratio": 0.0, "m2_plus_balance_ratio": 0.0})
        entry["m1_m2_roll_rate"] = moves.rolled_1_2.get(bank, 0.0) / was if was else 0.0
        entry["new_critical_alerts"] = float(moves.new_critical.get(bank, 0))
    return out


def decimal_text(value: float) -> str:
    """A figure as a decimal string to 6 places, trailing zeros dropped (payloads hold no
    floats: their RFC 8785 form is their signed bytes)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def evaluate(s: Session, plan: Plan, moves: BookMoves) -> list[NewAlert]:
    """The portfolio alerts of a finished submission; stores each bank's new level."""
    alerts: list[NewAlert] = []
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan_ref = {"name": plan.name, "version": plan.version, "digest": plan.digest}
    levels = {row.institution: row for row in s.scalars(select(BankLevel))}  # one query
    for bank, values in sorted(figures(s, moves).items()):
        breached = [t for t in plan.thresholds if values[t.metric] > t.above]
        for t in breached:
            data = {
                "metric": t.metric,
                "value": decimal_text(values[t.metric]),
                "above": decimal_text(t.above),
                "level": t.level,
                "plan": plan_ref,
            }
            alerts.append(NewAlert(bank, THRESHOLD_BREACHED, data, None))
        level = max((t.level for t in breached), default=1)
        stored = levels.get(bank)
        before = stored.level if stored is not None else 1
        plan_changed = stored is not None and stored.plan_digest != plan.digest
        if level != before or plan_changed:
            entry = plan.level(level)
            data = {
                "from": before,
                "to": level,
                "name": entry.name,
                "actions": list(entry.actions),
                "reason": "thresholds" if level != before else "plan_changed",
                "plan": plan_ref,
            }
            alerts.append(NewAlert(bank, LEVEL_CHANGED, data, None))
        if stored is None:
            s.add(BankLevel(institution=bank, level=level, plan_digest=plan.digest, changed_at=now))
        elif level != before or plan_changed:
            stored.level, stored.plan_digest, stored.changed_at = level, plan.digest, now
    return alerts
