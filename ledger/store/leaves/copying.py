"""The PostgreSQL bulk path: a batch's segments by COPY (binary), its keys as one array.

The segments go by :func:`ledger.store.pgcopy.copy_rows` (binary: the blobs go as
they are, not hex-escaped), in the caller's transaction. The keys (10k small rows
per table per batch) go as one int8 array per statement instead, as SQLite takes
them as one JSON array: made on the pack threads, parsed by the server, sorted
there; building 10k row tuples for COPY took the flush thread twice the CPU
(26-34 ms a 10k-leaf batch against 56-65 ms, same session).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy.orm import Session

from ledger.store import pgcopy
from ledger.store.leaves.tables import LeafSegment

#: A batch's keys go as one int8 array, the counterpart of SQLite's json_each: the
#: keys' JSON array (made on the pack threads) is also an array literal once its
#: brackets are braces, parsed by the server, and an array position is a leaf index.
#: Written in key order: each index B-tree is walked in order, not jumped around.
_LEAF_KEYS: Final = (
    "INSERT INTO leaf_keys (key, batch_key, leaf_index, erased) "
    "SELECT k.key, %s, k.ord - 1, false FROM unnest(%s::int8[]) WITH ORDINALITY AS k(key, ord) "
    "WHERE k.key IS NOT NULL ORDER BY k.key"
)
_RECORD_KEYS: Final = (
    "INSERT INTO record_keys (key, batch_key, leaf_index) "
    "SELECT k.key, %s, k.ord - 1 FROM unnest(%s::int8[]) WITH ORDINALITY AS k(key, ord) "
    "WHERE k.key IS NOT NULL ORDER BY k.key"
)
#: The duplicate check of a submission folded into its record keys' insert, as on
#: SQLite (:data:`ledger.store.leaves.writing._CLAIM_RECORD_KEYS`): a key stored
#: before is left out.
CLAIM_RECORD_KEYS: Final = (
    "INSERT INTO record_keys (key, batch_key, leaf_index) "
    "SELECT k.key, %s, k.ord - 1 FROM unnest(%s::int8[]) WITH ORDINALITY AS k(key, ord) "
    "WHERE NOT EXISTS (SELECT 1 FROM record_keys r WHERE r.key = k.key) ORDER BY k.key"
)
#: Taken until commit by a transaction that claims record keys: on SQLite one writer
#: at a time is the database's rule; here two submissions' transactions would each
#: find the other's keys not there yet (read committed) and both store them.
RECORD_KEYS_LOCK: Final = 0x52_45_43_4B_45_59  # "RECKEY"
#: Undoes a claim that fell short, by primary key (no scan of the table for the batch).
_UNCLAIM: Final = "DELETE FROM record_keys WHERE key = ANY(%s::int8[]) AND batch_key = %s"


def int8_array(keys_json: str) -> str:
    """The PostgreSQL array literal of a JSON array of integers and nulls."""
    if not (keys_json.startswith("[") and keys_json.endswith("]")):
        raise ValueError("keys are a JSON array")
    return "{" + keys_json[1:-1] + "}"


def copy_segments(s: Session, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    pgcopy.copy_rows(s, LeafSegment.__tablename__, columns, rows)


def insert_leaf_keys(s: Session, bkey: int, keys_json: str) -> None:
    """The leaf keys of a batch's leaves 0.. (JSON; null: a hole, no key)."""
    _execute(s, _LEAF_KEYS, (bkey, int8_array(keys_json)))


def insert_record_keys(s: Session, bkey: int, keys_json: str) -> None:
    """The record keys of a batch's leaves 0.. (JSON; null: an erased leaf, no key)."""
    _execute(s, _RECORD_KEYS, (bkey, int8_array(keys_json)))


def claim_record_keys(s: Session, bkey: int, keys_json: str, count: int) -> bool:
    """Store the ``count`` keys (JSON) of a new batch's leaves 0.. if no stored leaf has
    any of them; False, with none of them stored, otherwise. Holds
    :data:`RECORD_KEYS_LOCK` until the transaction ends (a caller that then looks the
    ids up and stores what is new does so under it)."""
    keys = int8_array(keys_json)
    _execute(s, "SELECT pg_advisory_xact_lock(%s)", (RECORD_KEYS_LOCK,))
    if _execute(s, CLAIM_RECORD_KEYS, (bkey, keys)) == count:
        return True
    _execute(s, _UNCLAIM, (keys, bkey))
    return False


def _execute(s: Session, sql: str, params: tuple[Any, ...]) -> int:
    """Run ``sql`` on the session's psycopg connection; the rows it changed."""
    with pgcopy.driver(s, sql) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
