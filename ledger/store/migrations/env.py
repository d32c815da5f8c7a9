"""Alembic's environment for the store: run online, on the connection the caller passes.

:mod:`ledger.store.schema` makes the config (``script_location`` this package, the
open connection in its attributes); there is no ``alembic.ini`` and no offline mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import ledger.store  # noqa: F401 - registers every table on Base
from ledger.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the store's migrations run on a connection ledger.store.schema passes")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite runs the DDL inside the caller's BEGIN IMMEDIATE: one upgrade, one transaction.
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
