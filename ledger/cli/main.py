"""The ``ledger`` entry point."""

from __future__ import annotations

import typer

from ledger import __version__, logs
from ledger.cli import (
    alerts_cmds,
    api_cmds,
    consent_cmds,
    convert_cmds,
    db_cmds,
    demo,
    deploy_cmds,
    proof_cmds,
    submit_cmds,
)
from ledger.cli.audit_cmds import audit_cmd, export_cmd

app = typer.Typer(
    name="ledger",
    help="CreditAnchor: anchor desensitised credit data on chain, prove it, audit it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(deploy_cmds.init)
app.command("deploy")(deploy_cmds.deploy_cmd)
app.command("submit")(submit_cmds.submit)
app.command("bundle")(proof_cmds.bundle)
app.command("verify")(proof_cmds.verify)
app.command("demo")(demo.demo)
app.command("serve")(api_cmds.serve)
app.add_typer(api_cmds.partner_app, name="partner")
app.add_typer(consent_cmds.consent_app, name="consent")
app.command("erase")(consent_cmds.erase)
app.command("audit")(audit_cmd)
app.command("export")(export_cmd)
app.command("convert")(convert_cmds.convert)
app.add_typer(alerts_cmds.alerts_app, name="alerts")
app.add_typer(db_cmds.db_app, name="db")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ledger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """CreditAnchor command line."""


def run() -> None:
    logs.configure()
    app()
