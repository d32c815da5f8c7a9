"""``ledger alerts dispatch``: push the alert outbox to the banks' webhooks.

The dispatcher module (urllib3) is imported inside the command, so other commands
start without it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
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


#: The ``alerts`` command group, for ``app.add_typer(alerts_app, name="alerts")``.
alerts_app = typer.Typer(help="Risk alerts for partner banks.", no_args_is_help=True)
alerts_app.command("dispatch")(dispatch)
