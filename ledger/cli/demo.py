"""``ledger demo``: the whole flow on the embedded chain, in a fresh data dir."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ledger.chain import deploy, open_chain
from ledger.chain.signer import load_account
from ledger.cli._common import DataDirOpt, JsonOpt, command, console, ensure_data_dir, print_json
from ledger.cli.deploy_cmds import show_deployment
from ledger.config import Settings
from ledger.errors import InputError


@command
def demo(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Run init -> deploy on the embedded chain in a fresh data dir and show the result.

    Example: ledger demo
    """
    target = data_dir or Path(tempfile.mkdtemp(prefix="credit-anchor-demo-"))
    if target.exists() and any(target.iterdir()):
        raise InputError(f"{target} is not empty; the demo needs a fresh data dir")
    settings = Settings(data_dir=target, rpc_url=None)
    ensure_data_dir(settings.data_dir)
    account = load_account(settings.data_dir)
    with open_chain(settings, holder="ledger demo") as chain:
        deployment, _ = deploy(chain, settings.data_dir)
    if as_json:
        print_json({"data_dir": str(target), "deployment": deployment.to_json()})
        return
    console.print(f"[bold]CreditAnchor demo[/bold] — data dir {target}")
    console.print(f"1. init: chain account {account.address.lower()} (key in chain.key, mode 0600)")
    console.print("2. deploy: both registries on the embedded eth-tester chain")
    show_deployment(deployment, created=True)
