"""``ledger alerts summary`` and ``ledger alerts plan show``: the monitoring view and the plan.

The library modules (polars, the figures) are imported inside the commands, so
every other ``ledger`` command starts without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    command,
    console,
    open_store,
    print_json,
    settings_for,
)

if TYPE_CHECKING:
    from ledger.alerts.plan import Plan

PlanOpt = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        help="Risk plan TOML file. Default: LEDGER_ALERTS_PLAN, else the packaged default plan.",
        show_default=False,
    ),
]
STATES = ("pending", "delivered", "failed", "disabled", "pulled")


def load_plan(plan: Path | None, data_dir: Path | None) -> Plan:
    from ledger.alerts.plan import Plan

    return Plan.load(plan or settings_for(data_dir).alerts_plan)


@command
def summary(plan: PlanOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """The risk monitoring view: per bank its alerts (open, acked, by delivery state and
    type), plan level and book by severity; consent checks; rejection rates; anchor lag.

    Example: ledger alerts summary --json
    """
    from ledger.alerts.summary import summarize

    in_force = load_plan(plan, data_dir)
    with open_store(data_dir) as store, store.session() as s:
        report = summarize(s, in_force).to_json()
    if as_json:
        print_json(report)
        return
    _print_summary(report)


def _print_summary(report: dict[str, Any]) -> None:
    plan = report["plan"]
    console.print(f"risk summary at {report['at']}, plan {plan['name']} v{plan['version']}")
    banks = Table("institution", "level", "alerts", "open", "acked", *STATES, "oldest open",
                  title="Banks (after lending)", title_justify="left")  # fmt: skip
    moves = Table("institution", "event type", "alerts", "acked", title="Alerts by type",
                  title_justify="left")  # fmt: skip
    book = Table("institution", "severity", "loans", "balance share", title="Co-funded book",
                 title_justify="left")  # fmt: skip
    checks = Table("institution", "granted", "refused", "anomalies",
                   title="Consent checks (before lending)", title_justify="left")  # fmt: skip
    for bank in report["banks"]:
        code = bank["institution"]
        level = f"{bank['level']} {bank['level_name'] or ''}".rstrip()
        if not bank["level_under_plan_in_force"]:
            level += " (set under another plan)"
        states = [str(bank["delivery"][state]) for state in STATES]
        banks.add_row(code, level, str(bank["alerts"]), str(bank["open"]), str(bank["acked"]),
                      *states, bank["oldest_open_at"] or "")  # fmt: skip
        for event_type, n in bank["by_type"].items():
            moves.add_row(code, event_type, str(n), str(bank["acked_by_type"].get(event_type, 0)))
        for severity, figures in bank["book"].items():
            book.add_row(code, severity, str(figures["loans"]), figures["balance_share"])
        c = bank["consent_checks"]
        checks.add_row(code, str(c["granted"]), str(c["refused"]), str(c["anomalies"]))
    during = Table("submission", "created", "accepted", "rejected", "rejection rate",
                   title="Submissions (during lending)", title_justify="left")  # fmt: skip
    for sub in report["submissions"]:
        during.add_row(sub["submission_id"][:18], sub["created_at"], str(sub["accepted"]),
                       str(sub["rejected"]), f"{sub['rejection_rate']:.2%}")  # fmt: skip
    lag = Table("batch kind", "pending", "oldest pending (s)", "last anchored lag (s)",
                title="Anchor lag", title_justify="left")  # fmt: skip
    for kind in report["anchor_lag"]:
        last = kind["last_anchored_lag_seconds"]
        lag.add_row(str(kind["kind"]), str(kind["pending"]), f"{kind['oldest_pending_seconds']:g}",
                    "" if last is None else f"{last:g}")  # fmt: skip
    for table in (banks, moves, book, checks, during, lag):
        console.print(table)


@command
def plan_show(plan: PlanOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Print the risk plan in force: severities, portfolio thresholds, levels and actions.

    Example: ledger alerts plan show --plan bank-plan.toml
    """
    in_force = load_plan(plan, data_dir)
    if as_json:
        print_json(in_force.to_json())
        return
    console.print(
        f"risk plan {in_force.name} v{in_force.version} ({in_force.digest})", markup=False
    )
    severities = Table("severity", "from days past due", title="Per loan", title_justify="left")
    for s in in_force.severities:
        severities.add_row(s.name, str(s.min_dpd))
    thresholds = Table("metric", "above", "raises level", title="Per bank (co-funded book)",
                       title_justify="left")  # fmt: skip
    for t in in_force.thresholds:
        thresholds.add_row(t.metric, f"{t.above:g}", str(t.level))
    levels = Table("level", "name", "actions", title="Levels", title_justify="left")
    for lv in in_force.levels:
        levels.add_row(str(lv.level), lv.name, "\n".join(f"- {a}" for a in lv.actions))
    for table in (severities, thresholds, levels):
        console.print(table)


#: ``ledger alerts plan``.
plan_app = typer.Typer(help="The risk plan (风险应急预案) in force.", no_args_is_help=True)
plan_app.command("show")(plan_show)
