"""The event loop's inquiry writer: grouped commits, hand-over when the store is locked."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

import api.inquirywriter as inquirywriter
from api.inquirywriter import LoopInquiryWriter
from ledger.config import Settings
from ledger.consent.inquiries import InquiryLog
from ledger.store import Inquiry, Store
from ledger.store.db import STORE_FILE
from tests.api.conftest import Api
from tests.api.test_consents import SUBJECT, _check, _grant
from tests.conftest import WAIT_SECONDS, wait_until
from tests.consent.conftest import inquiry_row


def _row(log: InquiryLog) -> dict[str, Any]:
    return inquiry_row(log, checked_at=datetime.now(UTC))


def _stored(store: Store) -> set[str]:
    with store.session() as s:
        return set(s.scalars(Inquiry.__table__.select().with_only_columns(Inquiry.inquiry_id)))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store.open(tmp_path)
    yield store
    store.close()


def test_the_checks_of_one_loop_pass_share_one_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = InquiryLog(store, submitter="", key_ids={})
    writer = LoopInquiryWriter(store, log)
    commits: list[int] = []
    real = inquirywriter.sqlite_insert_rows

    def counted(raw: Any, rows: list[dict[str, Any]]) -> None:
        commits.append(len(rows))
        real(raw, rows)

    monkeypatch.setattr(inquirywriter, "sqlite_insert_rows", counted)
    rows = [_row(log) for _ in range(25)]

    async def main() -> None:
        await asyncio.gather(*(writer.write(r) for r in rows))
        await writer.write(_row(log))  # a later pass: a commit of its own

    asyncio.run(main())
    assert commits == [25, 1]
    assert {r["inquiry_id"] for r in rows} <= _stored(store)


def test_a_failed_commit_fails_its_checks_and_the_next_commit_works(store: Store) -> None:
    log = InquiryLog(store, submitter="", key_ids={})
    writer = LoopInquiryWriter(store, log)
    first = _row(log)

    async def main() -> list[Any]:
        await writer.write(first)
        again = dict(first)  # the same inquiry id: the unique index refuses it
        results = await asyncio.gather(
            writer.write(again), writer.write(_row(log)), return_exceptions=True
        )
        fresh = _row(log)
        await writer.write(fresh)
        return [*results, fresh]

    *results, fresh = asyncio.run(main())
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results)
    assert _stored(store) == {first["inquiry_id"], fresh["inquiry_id"]}  # nothing half-landed


@contextmanager
def _writes_held(settings: Settings) -> Iterator[None]:
    """Another writer holds the inquiries until the block ends: SQLite's write lock, as
    the sealer's transaction takes it, or a PostgreSQL lock on the table that blocks
    inserts (reads go on)."""
    if settings.db_url is None:
        holder = sqlite3.connect(settings.data_dir / STORE_FILE, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            conn.exec_driver_sql("LOCK TABLE inquiries IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


def test_a_locked_store_hands_the_check_to_the_writer_thread(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the database: the loop keeps serving, the check waits its turn."""
    _grant(api)
    handed: list[int] = []
    hand_over = LoopInquiryWriter._hand_over

    def counted(self: LoopInquiryWriter, loop: Any, rows: list[Any], waiting: list[Any]) -> None:
        handed.append(len(rows))
        hand_over(self, loop, rows, waiting)

    monkeypatch.setattr(LoopInquiryWriter, "_hand_over", counted)
    answers: list[Any] = []
    checking = threading.Thread(target=lambda: answers.append(_check(api)))
    with _writes_held(api.settings):
        checking.start()
        # SQLite: the loop found the store locked and let go of the row; PostgreSQL: every
        # row goes to the writer thread, which waits for the lock.
        wait_until(lambda: handed)
        assert handed == [1]
        assert not answers  # not answered: its inquiry is not committed yet
        health = api.client.get("/healthz")  # the event loop is not blocked meanwhile
        assert health.status_code == 200
    checking.join(timeout=WAIT_SECONDS)
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["granted"] and SUBJECT["id_number"] not in answer.text
    store = Store.for_settings(api.settings)
    try:
        assert body["inquiry_id"] in _stored(store)
    finally:
        store.close()
