"""``ledger alerts dispatch|list|show|replay|seal``: push the alert outbox, read it, seal it.

``seal`` seals the alert log and anchors it (kind 4).

``list`` and ``show`` are the operator's view of every bank's alerts (a bank reads
its own through the API); ``replay`` sends one again under its webhook-id.
``summary`` and ``plan show`` live in :mod:`ledger.cli.alerts_report`. The
dispatcher module (urllib3) is imported inside its command, so other commands
start without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    RpcOpt,
    command,
    console,
    ensure_data_dir,
    open_store,
    print_json,
    settings_for,
)
from ledger.cli.alerts_report import plan_app, summary
from ledger.store import Store

if TYPE_CHECKING:
    from ledger.alerts.views import AlertView

OUTCOMES = ("delivered", "retry", "failed", "disabled")
AlertIdArg = Annotated[str, typer.Argument(help="The alert's id (its webhook-id, msg_...).")]
#: Alerts one ``list`` shows at most (the outbox's page bound).
MAX_LIST = 1000


@command
def dispatch(
    once: Annotated[
        bool, typer.Option("--once", help="Send what is due now, then exit (else run on).")
    ] = False,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deliver risk alerts to the banks' webhooks (Standard Webhooks, signed), with retries.

    Safe to kill at any moment: a delivery cut short is sent again, same webhook-id.

    Timing, retries and the allowlist: the LEDGER_ALERT_* settings.

    Example: ledger alerts dispatch --once
    """
    from ledger.alerts.dispatcher import DispatchConfig, Dispatcher
    from ledger.alerts.sealing import Sealer

    settings = settings_for(data_dir)
    ensure_data_dir(settings.data_dir)
    store = Store.for_settings(settings)
    try:
        config = DispatchConfig.from_settings(settings)
        dispatcher = Dispatcher(store, Sealer.for_data_dir(settings.data_dir), config)
        totals = dispatcher.run(once=once)
    finally:
        store.close()
    counts = {outcome: totals[outcome] for outcome in OUTCOMES}
    if as_json:
        print_json(counts)
    else:
        console.print(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))


def gist(view: AlertView) -> str:
    """One line of what an alert says (its payload's key figures)."""
    data = view.alert.envelope()["data"]
    if "days_past_due" in data:
        return f"{data['days_past_due']} dpd, {data.get('severity') or 'current'}"
    if "metric" in data:
        return f"{data['metric']} {data['value']} > {data['above']} (level {data['level']})"
    if "to" in data:
        return f"level {data.get('from')} -> {data['to']} {data.get('name', '')}".rstrip()
    return ""


def _view_json(view: AlertView) -> dict[str, Any]:
    return {**view.to_json(), "body": view.alert.envelope()}


@command
def list_cmd(
    institution: Annotated[
        str | None, typer.Option("--institution", help="One bank's alerts (default: all).")
    ] = None,
    after: Annotated[int, typer.Option("--after", min=0, help="Alerts after this seq.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIST, help="At most.")] = 100,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List alerts oldest first: seq, id, bank, type, what, delivery and ack.

    Example: ledger alerts list --institution 91350211MA2XYZ1234 --after 120
    """
    from ledger.alerts.views import bank_page, every_bank_page
    from ledger.store.apikeys import check_institution

    if institution is not None:
        check_institution(institution)
    with open_store(data_dir) as store, store.session() as s:
        if institution is None:
            views = every_bank_page(s, after, limit)
        else:
            views = bank_page(s, institution, after, limit)
    if as_json:
        nxt = views[-1].alert.seq if views else after
        print_json({"alerts": [_view_json(v) for v in views], "next": nxt,
                    "more": len(views) == limit})  # fmt: skip
        return
    table = Table("seq", "id", "institution", "type", "what", "created", "delivery", "ack")
    for v in views:
        a = v.alert
        delivery = "pulled" if v.delivery is None else v.delivery.state
        ack = "" if v.ack is None else v.ack.acknowledged_at
        table.add_row(str(a.seq), a.id, a.institution, a.type, gist(v), a.created_at, delivery, ack)
    console.print(table)
    if len(views) == limit:
        console.print(f"more: --after {views[-1].alert.seq}")


@command
def show(alert_id: AlertIdArg, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Show an alert: its body, every delivery attempt, and its acknowledgement.

    Example: ledger alerts show msg_2f1c9b7e4d3a4c0b8e6f5a1d2c3b4a59
    """
    from ledger.alerts.views import any_alert

    with open_store(data_dir) as store, store.session() as s:
        detail = any_alert(s, alert_id)
    view, body = detail.view, detail.view.alert.envelope()
    if as_json:
        print_json({**detail.to_json(), "body": body})
        return
    a = view.alert
    console.print(f"{a.id}  seq {a.seq}  {a.type}  for {a.institution}  at {a.created_at}")
    if a.batch_id:
        console.print(f"caused by batch {a.batch_id}")
    print_json(body)
    if view.delivery is None:
        console.print("delivery: none (the bank has no webhook; it pulls)")
    else:
        d = view.delivery
        line = f"delivery: {d.state}, {d.attempts} attempt(s)"
        line += f", delivered {d.delivered_at}" if d.delivered_at else ""
        line += f", last error: {d.last_error}" if d.last_error else ""
        console.print(line, markup=False)
    if detail.history:
        table = Table("attempt", "started", "ms", "target", "status", "outcome", "error")
        for t in detail.history:
            table.add_row(str(t.attempt), t.started_at, str(t.duration_ms), t.target,
                          str(t.status_code or ""), t.outcome, t.error or "")  # fmt: skip
        console.print(table)
    if view.ack is None:
        console.print("ack: not acknowledged")
    else:
        note = f" ({view.ack.note})" if view.ack.note else ""
        console.print(
            f"ack: {view.ack.acknowledged_at} by {view.ack.acknowledged_by}{note}", markup=False
        )


@command
def replay_cmd(alert_id: AlertIdArg, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Queue an alert for delivery to its bank again, same webhook-id and body.

    For a bank that lost it; `ledger alerts dispatch` sends it. Exits non-zero when its
    bank has no webhook (it pulls: GET /v1/alerts) or the endpoint is disabled.

    Example: ledger alerts replay msg_2f1c9b7e4d3a4c0b8e6f5a1d2c3b4a59
    """
    from ledger.alerts.replay import replay

    with open_store(data_dir) as store, store.session() as s, s.begin():
        done = replay(s, alert_id)
    if as_json:
        print_json({"alert_id": done.alert_id, "institution": done.institution,
                    "outcome": done.outcome, "previous": done.previous})  # fmt: skip
    elif done.outcome == "queued":
        was = f" (was {done.previous})" if done.previous else ""
        console.print(f"queued {done.alert_id} for {done.institution} again{was}; "
                      "`ledger alerts dispatch` sends it under the same webhook-id")  # fmt: skip
    else:
        console.print(f"{done.alert_id} is queued for {done.institution} already")


@command
def seal(
    force: Annotated[
        bool, typer.Option("--force", help="Seal every unsealed entry now, due or not.")
    ] = False,
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal the alert log (alerts, delivery attempts, acknowledgements) and anchor it (kind 4).

    Seals when due (LEDGER_ALERT_SEAL_SIZE entries wait, or the oldest waited
    LEDGER_ALERT_SEAL_SECONDS), or at once with --force; anchors every pending batch,
    including any a crash left unanchored.

    Example: ledger alerts seal --force
    """
    from ledger.wiring import Ledger  # the chain stack: loaded only by commands that use it

    with Ledger.open(settings_for(data_dir, rpc), holder="ledger alerts") as ledger:
        ledger.resume()
        sealed = ledger.anchor_alerts(force=force)
    if as_json:
        print_json({"sealed": sealed})
    else:
        console.print(
            f"sealed {len(sealed)} alert log batch(es)" + "".join(f"\n  {b}" for b in sealed)
        )


#: The ``alerts`` command group, for ``app.add_typer(alerts_app, name="alerts")``.
alerts_app = typer.Typer(
    help="Risk alerts for partner banks: deliver, list, show, replay, summary, seal, plan.",
    no_args_is_help=True,
    add_completion=False,  # the top-level app has none either
)
alerts_app.command("dispatch")(dispatch)
alerts_app.command("list")(list_cmd)
alerts_app.command("show")(show)
alerts_app.command("replay")(replay_cmd)
alerts_app.command("summary")(summary)
alerts_app.command("seal")(seal)
alerts_app.add_typer(plan_app, name="plan")
