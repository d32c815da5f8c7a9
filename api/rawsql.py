"""Hot-path SELECTs: compiled once per database dialect, run on a pooled DBAPI connection.

SQLAlchemy Core spends ~40 µs per execution on cache keys, parameter expansion
and result set-up; a one-record verify runs a single query, so that is a tenth
of the request. :class:`KeyedSelect` compiles ``SELECT ... WHERE col IN (...)``
for a few fixed list lengths (keys are padded by repeating the first), for the
engine's own dialect, so any SQLAlchemy URL still works. Rows come back as the
driver gives them (no type processing): convert blobs with ``bytes(...)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import BindParameter, Engine, PoolProxiedConnection, bindparam
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

#: List lengths compiled; a longer key list is cut into chunks of the last one.
SIZES: Final = (1, 16, 500)
Build = Callable[[list[BindParameter[Any]]], ClauseElement]


class Connections:
    """DBAPI connections for these queries. The thread that made this object (the
    event loop's) keeps one, saving a pool checkout per request; it runs one
    query at a time and ends each read with a rollback, so the next sees new
    commits. Other threads check a connection out of the pool for each use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._owner = threading.get_ident()
        self._held: PoolProxiedConnection | None = None

    @contextmanager
    def connection(self) -> Iterator[PoolProxiedConnection]:
        if threading.get_ident() != self._owner:
            raw = self.engine.raw_connection()
            try:
                yield raw
            finally:
                raw.close()
            return
        if self._held is None:
            self._held = self.engine.raw_connection()
        try:
            yield self._held
            self._held.rollback()
        except BaseException:
            self._held.invalidate()  # unknown state: never reuse it
            self._held = None
            raise

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None


class KeyedSelect:
    """``build(params)`` is the SELECT, given the IN list's bind parameters."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self._compiled: dict[tuple[str, int], tuple[str, Sequence[str] | None]] = {}

    def _sql(self, engine: Engine, size: int) -> tuple[str, Sequence[str] | None]:
        key = (engine.dialect.name, size)
        if key not in self._compiled:
            stmt = self.build([bindparam(f"k{i}") for i in range(size)])
            compiled = stmt.compile(dialect=engine.dialect)
            assert isinstance(compiled, SQLCompiler)
            order = compiled.positiontup if compiled.positional else None
            self._compiled[key] = (str(compiled), order)
        return self._compiled[key]

    def rows(self, connections: Connections, keys: Sequence[Any]) -> list[Sequence[Any]]:
        """Every row matching one of ``keys`` (duplicates among keys are harmless)."""
        found: list[Sequence[Any]] = []
        if not keys:
            return found
        with connections.connection() as raw:
            cursor = raw.cursor()
            for start in range(0, len(keys), SIZES[-1]):
                chunk = list(keys[start : start + SIZES[-1]])
                size = next(n for n in SIZES if n >= len(chunk))
                chunk += [chunk[0]] * (size - len(chunk))
                sql, order = self._sql(connections.engine, size)
                named = {f"k{i}": key for i, key in enumerate(chunk)}
                cursor.execute(sql, named if order is None else [named[n] for n in order])
                found.extend(cursor.fetchall())
            cursor.close()
        return found
