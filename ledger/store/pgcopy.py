"""COPY through psycopg: how the store's bulk writes load many rows on PostgreSQL.

``COPY ... FROM STDIN`` streams rows in one command, with no statement parsed,
planned or bound per row; psycopg 3 writes each row in the binary format
(``write_row``, in C). It runs on the DBAPI connection under the session's
(``driver_connection``), so the rows are part of the caller's transaction and go
with its rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ledger.store.models import Base

if TYPE_CHECKING:  # imported where a store is on PostgreSQL: a SQLite one never loads it
    import psycopg


def copies(s: Session) -> bool:
    """Whether this session's store takes COPY: PostgreSQL through psycopg 3."""
    dialect = s.get_bind().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(
    s: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY ``rows`` (values of ``columns`` of the store's ``table``) in the session's
    transaction."""
    dialect, found = s.get_bind().dialect, Base.metadata.tables[table]
    # The type's name without its modifier (``VARCHAR(66)``: varchar), as psycopg knows it.
    types = [found.c[name].type.compile(dialect).split("(")[0].lower() for name in columns]
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with driver(s, sql) as conn, conn.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


@contextmanager
def driver(s: Session, sql: str) -> Iterator[psycopg.Connection[Any]]:
    """The session's psycopg connection; its errors raised as SQLAlchemy raises the
    driver's (an IntegrityError, an OperationalError), for the callers that handle those."""
    import psycopg

    conn = s.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection), "copies() said psycopg"
    try:
        yield conn
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc
