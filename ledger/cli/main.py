"""The ``ledger`` entry point.

A command's module is imported when that command runs, not at start-up: ``ledger
partner list`` does not load the submission pipeline or the consent receipts.
:data:`COMMANDS` names where each command lives; :func:`run` registers only the
command its arguments name (every command when they name none, for ``--help``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Final

import typer

from ledger import __version__, logs

#: Each command, in the order ``ledger --help`` lists them: its module and the name
#: there of its function (a command) or of its :class:`typer.Typer` (a command group).
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "init": ("ledger.cli.deploy_cmds", "init"),
    "deploy": ("ledger.cli.deploy_cmds", "deploy_cmd"),
    "submit": ("ledger.cli.submit_cmds", "submit"),
    "bundle": ("ledger.cli.proof_cmds", "bundle"),
    "verify": ("ledger.cli.proof_cmds", "verify"),
    "demo": ("ledger.cli.demo", "demo"),
    "serve": ("ledger.cli.api_cmds", "serve"),
    "erase": ("ledger.cli.consent_cmds", "erase"),
    "audit": ("ledger.cli.audit_cmds", "audit_cmd"),
    "export": ("ledger.cli.audit_cmds", "export_cmd"),
    "convert": ("ledger.cli.convert_cmds", "convert"),
    "partner": ("ledger.cli.api_cmds", "partner_app"),
    "consent": ("ledger.cli.consent_cmds", "consent_app"),
    "alerts": ("ledger.cli.alerts_cmds", "alerts_app"),
    "db": ("ledger.cli.db_cmds", "db_app"),
}

app = typer.Typer(
    name="ledger",
    help="CreditAnchor: anchor desensitised credit data on chain, prove it, audit it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def register(names: Iterable[str]) -> None:
    """Add these :data:`COMMANDS` to :data:`app`, importing their modules."""
    for name in names:
        module, attr = COMMANDS[name]
        target = getattr(importlib.import_module(module), attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


def named_command(args: Sequence[str]) -> str | None:
    """The command ``args`` name, if one of :data:`COMMANDS`: the first argument that
    is not an option (the top level's options, ``--version`` and ``--help``, take no
    value)."""
    first = next((arg for arg in args if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


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
    args = sys.argv[1:]
    named = named_command(args)
    if named is not None:
        register([named])
    elif "--version" not in args:  # --help lists them all; for a name that is no
        register(COMMANDS)  # command, click's answer suggests one
    app()
