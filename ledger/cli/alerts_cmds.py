"""``ledger alerts dispatch``: push the alert outbox to the banks' webhooks;
``ledger alerts seal``: seal and anchor the alert log.

The dispatcher module (httpx) is imported inside the command, so other commands
start without it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    RpcOpt,
    command,
    console,
    ensure_data_dir,
    print_json,
    settings_for,
)
from ledger.store import Store

OUTCOMES = ("delivered", "retry", "failed", "disabled")


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
alerts_app = typer.Typer(help="Risk alerts for partner banks.", no_args_is_help=True)
alerts_app.command("dispatch")(dispatch)
alerts_app.command("seal")(seal)
