"""``ledger init`` and ``ledger deploy``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ledger.chain.deploy import Deployment
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
from ledger.errors import InputError
from ledger.store import schema


@command
def init(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Create the data dir, its chain account key (mode 0600) and the store (at this
    release's schema revision); safe to run twice.

    Example: ledger init --data-dir ./.ledger
    """
    from ledger.chain.signer import load_account  # the chain stack loads only when needed

    settings = settings_for(data_dir)
    ensure_data_dir(settings.data_dir)
    account = load_account(settings.data_dir)
    with open_store(data_dir) as store:  # a new store is made at the head
        revision = schema.current(store.engine)
    result = {
        "data_dir": str(settings.data_dir),
        "account": account.address.lower(),
        "store_revision": revision,
    }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"data dir  {result['data_dir']}\naccount   {result['account']}\n"
            f"store     schema revision {revision}"
        )


FundOpt = Annotated[
    bool,
    typer.Option(
        "--fund-from-dev-node",
        help="First top up the data dir's account on a local anvil or Hardhat node "
        "(anvil_setBalance / hardhat_setBalance); refused on any other network.",
    ),
]


@command
def deploy_cmd(
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Deploy again even if deployed.")] = False,
    alert_log_registry: Annotated[
        bool,
        typer.Option(
            "--alert-log-registry",
            help="For a deployment made before kind 4: keep its AnchorRegistry for kinds "
            "1-3 and deploy one for the risk-alert log beside it.",
        ),
    ] = False,
    fund: FundOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Deploy AnchorRegistry and ConsentRegistry and write deployment.json.

    Without --rpc the contracts go to the embedded eth-tester chain in the data dir.
    Run again, it reports the existing deployment after checking its code is on chain.
    --alert-log-registry moves a deployment whose AnchorRegistry predates kind 4 (the
    risk-alert log): nothing anchored there changes.

    Example: ledger deploy --data-dir ./.ledger
             ledger deploy --rpc http://127.0.0.1:8545 --fund-from-dev-node   (make anvil)
             ledger deploy --alert-log-registry --data-dir ./.ledger
    """
    from ledger.chain import deploy, open_chain  # the chain stack loads only when needed
    from ledger.chain.deploy import add_alert_log_registry
    from ledger.chain.devnode import fund_from_dev_node

    settings = settings_for(data_dir, rpc)
    if fund and not settings.rpc_url:
        raise InputError(
            "--fund-from-dev-node needs --rpc URL (or LEDGER_RPC_URL)",
            hint="the embedded chain funds its account by itself",
        )
    if force and alert_log_registry:
        raise InputError("--force deploys everything afresh; --alert-log-registry keeps it")
    ensure_data_dir(settings.data_dir)
    with open_chain(settings, holder="ledger deploy") as chain:
        funded = fund_from_dev_node(chain) if fund else None
        account = chain.address.lower()
        if alert_log_registry:
            deployment, created = add_alert_log_registry(chain, settings.data_dir)
        else:
            deployment, created = deploy(chain, settings.data_dir, force=force)
    if as_json:
        print_json({"created": created, "funded_by": funded, **deployment.to_json()})
        return
    if funded:
        console.print(f"funded {account} on the development node ({funded})")
    show_deployment(deployment, created=created)


def show_deployment(deployment: Deployment, *, created: bool) -> None:
    """A readable summary of a deployment."""
    title = "Deployed" if created else "Already deployed (code verified on chain)"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_row("chain id", str(deployment.chain_id))
    table.add_row("backend", deployment.rpc_kind)
    for name, info in deployment.registries.items():
        table.add_row(name, f"{info.address}  (block {info.block_number})")
    table.add_row("deployer", deployment.deployer)
    table.add_row("compiler", deployment.compiler_version)
    console.print(table)
