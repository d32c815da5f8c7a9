"""``ledger partner add|list|revoke`` (API keys and their roles) and ``ledger serve``.

``ledger partner webhook`` lives in :mod:`ledger.cli.webhook_cmds`.

A key is printed once, at ``add``; the store keeps only its SHA-256. ``serve``
runs the HTTP API under uvicorn; it names the app by import string, so the
library itself never imports ``api`` or FastAPI.
"""

from __future__ import annotations

import copy
import os
from typing import Annotated, Any

import typer
from rich.table import Table

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
from ledger.cli.webhook_cmds import webhook_app
from ledger.errors import ConfigurationError, InputError
from ledger.store import Store
from ledger.store.apikeys import create_key, list_keys, revoke_key

NameArg = Annotated[str, typer.Argument(help="Who holds the key (a bank, a person, a service).")]


def _store(data_dir: DataDirOpt) -> Store:
    settings = settings_for(data_dir)
    if settings.db_url is None:
        ensure_data_dir(settings.data_dir)
    return Store.for_settings(settings)


@command
def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="operator, partner or auditor.")],
    institution: Annotated[
        str | None,
        typer.Option("--institution", help="Institution code a partner key is bound to."),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it once; only its hash is stored.

    Example: ledger partner add bank-a --role partner --institution ORG123
    """
    store = _store(data_dir)
    try:
        info, key = create_key(store, name, role, institution=institution)
    finally:
        store.close()
    if as_json:
        print_json({**info.to_json(), "key": key})
        return
    console.print(
        f"{info.role} key for {info.name}"
        + (f" (institution {info.institution})" if info.institution else "")
    )
    console.print(key, markup=False, soft_wrap=True)
    console.print("Store it now: it is not shown again.")


@command
def list_cmd(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys: name, role, institution, created, revoked (never the keys).

    Example: ledger partner list --json
    """
    store = _store(data_dir)
    try:
        keys = list_keys(store)
    finally:
        store.close()
    if as_json:
        print_json([k.to_json() for k in keys])
        return
    table = Table("name", "role", "institution", "created", "revoked", title_justify="left")
    for k in keys:
        table.add_row(k.name, str(k.role), k.institution or "", k.created_at, k.revoked_at or "")
    console.print(table)


@command
def revoke(name: NameArg, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke an API key; requests with it get 401 from then on.

    Example: ledger partner revoke bank-a
    """
    store = _store(data_dir)
    try:
        info = revoke_key(store, name)
    finally:
        store.close()
    if as_json:
        print_json(info.to_json())
    else:
        console.print(f"revoked {info.name} at {info.revoked_at}")


#: The app factory uvicorn imports (in each worker process).
APP_FACTORY = "api.app:create_app"
#: Where `ledger serve` listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Seconds a worker may take to answer uvicorn's supervisor before it is killed and
#: replaced. A new worker answers only once its interpreter has imported the CLI (spawn
#: re-imports ``ledger``): about 1.5 s of CPU, over 5 s with both cores busy, where
#: uvicorn's default of 5 s killed each new worker and started another, over and over.
WORKER_HEALTHCHECK_SECONDS = 60


@command
def serve(
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, help="Worker processes (JSON-RPC chain and PostgreSQL only)."
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) over the data dir's store and chain.

    Example: ledger serve --data-dir ./.ledger --port 8000
    """
    settings = settings_for(data_dir, rpc)
    if not settings.deployment_file.is_file():
        raise ConfigurationError(
            f"no deployment in {settings.data_dir}", hint="run `ledger deploy` first"
        )
    if workers > 1 and not settings.rpc_url:
        raise InputError(
            "the embedded chain serves one process: use --workers 1, or --rpc URL for more"
        )
    if workers > 1 and not (settings.db_url or "").startswith("postgresql"):
        # Workers elect their anchor sender with a PostgreSQL lock (ledger.anchoring.election).
        raise InputError(
            "several workers share a PostgreSQL store: set LEDGER_DB_URL=postgresql+psycopg://..."
        )
    # A store the API cannot open (behind this release's schema, unreachable) is one
    # line here, not a traceback from each worker's startup.
    Store.for_settings(settings).close()
    # Workers are new processes: they read their settings from the environment.
    os.environ["LEDGER_DATA_DIR"] = str(settings.data_dir)
    if settings.rpc_url:
        os.environ["LEDGER_RPC_URL"] = settings.rpc_url
    import uvicorn  # here: only `ledger serve` needs it

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        access_log=False,  # the app writes its own, without raw paths or query strings
        log_config=log_config(),
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the API's own loggers: JSON access lines on stdout."""
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["handlers"]["plain"] = {
        "formatter": "plain",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["api"] = {"handlers": ["plain"], "level": "INFO", "propagate": False}
    return config


#: The ``partner`` command group, for ``app.add_typer(partner_app, name="partner")``.
partner_app = typer.Typer(
    help="API keys: add, list, revoke; webhook endpoints: webhook set, rotate, test.",
    no_args_is_help=True,
    add_completion=False,  # the top-level app has none either
)
partner_app.command("add")(add)
partner_app.command("list")(list_cmd)
partner_app.command("revoke")(revoke)
partner_app.add_typer(webhook_app, name="webhook")
