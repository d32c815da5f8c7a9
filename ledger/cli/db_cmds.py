"""``ledger db upgrade|current``: the store's schema revision, and bringing it to the head.

Every other command refuses a store whose schema is behind this release's and names
``ledger db upgrade``; that command (and ``current``) opens the store without that
check. The revisions are Alembic's, shipped in :mod:`ledger.store.migrations`.
"""

from __future__ import annotations

import typer

from ledger.cli._common import DataDirOpt, JsonOpt, command, console, open_store, print_json
from ledger.store import schema

db_app = typer.Typer(
    help="The store's schema: its revision, and upgrading it.",
    no_args_is_help=True,
    add_completion=False,  # the top-level app has none either
)


@command
def upgrade(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Bring the store's schema to this release's revision, in one transaction.

    A new store is made at the head; a store made before revisions were kept is known
    by its layout. Safe to run twice; stop the other ledger processes on the store first.

    Example: ledger db upgrade --data-dir ./.ledger
    """
    with open_store(data_dir, check_schema=False) as store:
        before, after = schema.upgrade(store.engine)
    if as_json:
        print_json({"from": before, "to": after})
    elif before is None:
        console.print(f"store made at revision {after}")
    elif before == after:
        console.print(f"store already at revision {after}")
    else:
        console.print(f"store upgraded from revision {before} to {after}")


@command
def current(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Print the store's schema revision and this release's (the head).

    Example: ledger db current --data-dir ./.ledger
    """
    with open_store(data_dir, check_schema=False) as store:
        found = schema.current(store.engine)
    head = schema.head()
    if as_json:
        print_json({"current": found, "head": head})
        return
    if found is None:
        console.print(f"new store (no tables yet); head {head}")
    elif found == head:
        console.print(f"{found} (head)")
    elif not schema.known(found):
        console.print(f"{found} (unknown to this release, whose head is {head})")
    else:
        console.print(f"{found} (head is {head}: run `ledger db upgrade`)")


db_app.command("upgrade")(upgrade)
db_app.command("current")(current)
