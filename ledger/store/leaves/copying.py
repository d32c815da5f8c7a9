"""The PostgreSQL bulk path: a batch's leaf rows by COPY (binary), keys claimed by array.

PostgreSQL's own way of loading many rows: ``COPY ... FROM STDIN`` streams them
in one command, with no statement parsed, planned or bound per row. psycopg 3
writes each row in its binary format (``write_row``, in C), through the DBAPI
connection under the session's (``driver_connection``), so the rows are part of
the caller's transaction and go with its rollback. Every key is an integer, so
the binary format sends 8 bytes where text would send ~20 digits, and the
segments' blobs go as they are instead of hex-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

#: The column types of each table, for the binary format (PostgreSQL's type names).
_SEGMENT_TYPES: Final = ("varchar", "int4", "int4", "bytea", "text", "bytea", "bytea")
_KEY_TYPES: Final = ("int8", "int8", "int4")

#: The duplicate check of a submission folded into its record keys' insert, as on
#: SQLite (:data:`ledger.store.leaves.writing._CLAIM_RECORD_KEYS`): the keys go as one
#: int8 array, their positions are the leaf indexes, and a key stored before is left out.
CLAIM_RECORD_KEYS: Final = (
    "INSERT INTO record_keys (key, batch_key, leaf_index) "
    "SELECT k.key, %s, k.ord - 1 FROM unnest(%s::int8[]) WITH ORDINALITY AS k(key, ord) "
    "WHERE NOT EXISTS (SELECT 1 FROM record_keys r WHERE r.key = k.key) ORDER BY k.key"
)


def copies(s: Session) -> bool:
    """Whether this session's store takes COPY: PostgreSQL through psycopg 3."""
    dialect = s.get_bind().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(
    s: Session,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """COPY ``rows`` into ``table`` (our own names only) in the session's transaction."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with _driver(s, sql) as driver, driver.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


@contextmanager
def _driver(s: Session, sql: str) -> Iterator[psycopg.Connection[Any]]:
    """The session's psycopg connection; its errors raised as SQLAlchemy raises the
    driver's errors (an IntegrityError, an OperationalError), for the callers that
    handle those."""
    driver = s.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "copies() said psycopg"
    try:
        yield driver
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def copy_segments(s: Session, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    copy_rows(s, "leaf_segments", columns, _SEGMENT_TYPES, rows)


def copy_leaf_keys(s: Session, bkey: int, keys: Sequence[int | None]) -> None:
    """The leaf keys of a batch's leaves 0.. (None: a hole, no key), in key order: the
    index B-tree is then written in order instead of jumped around."""
    rows = sorted((k, bkey, i, False) for i, k in enumerate(keys) if k is not None)
    copy_rows(
        s, "leaf_keys", ("key", "batch_key", "leaf_index", "erased"), (*_KEY_TYPES, "bool"), rows
    )


def copy_record_keys(s: Session, bkey: int, keys: Sequence[int | None]) -> None:
    """The record keys of a batch's leaves 0.. (None: an erased leaf), in key order."""
    rows = sorted((k, bkey, i) for i, k in enumerate(keys) if k is not None)
    copy_rows(s, "record_keys", ("key", "batch_key", "leaf_index"), _KEY_TYPES, rows)


#: Undoes a claim that fell short, by primary key (no scan of the table for the batch).
_UNCLAIM: Final = "DELETE FROM record_keys WHERE key = ANY(%s::int8[]) AND batch_key = %s"


def claim_record_keys(s: Session, bkey: int, keys: Sequence[int]) -> bool:
    """Store the keys of a new batch's leaves 0.. if no stored leaf has any of them;
    False, with none of them stored, otherwise."""
    with _driver(s, CLAIM_RECORD_KEYS) as driver, driver.cursor() as cursor:
        cursor.execute(CLAIM_RECORD_KEYS, (bkey, list(keys)))
        if cursor.rowcount == len(keys):
            return True
        cursor.execute(_UNCLAIM, (list(keys), bkey))
        return False
