"""After an erasure on PostgreSQL: what the server must allow and be set to for the
erased values to leave its files, and the report that says what could not be done."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from ledger.consent import Subject
from ledger.consent.erasure import erase_subject
from ledger.privacy import default_desensitiser
from ledger.store import Consent, Store
from ledger.store.models import erasable_tables
from tests._postgres import SUPERUSER, Cluster
from tests.cli._cli import run
from tests.conftest import wait_until
from tests.records.sample import ID_NUMBER

_roles = itertools.count(1)


def _consent(store: Store, pseudonym: str | None = None) -> str:
    """A stored consent of a subject (a new one by default); that subject's pseudonym."""
    pseudonym = pseudonym or "0x" + os.urandom(32).hex()
    receipt = json.dumps({"subject_pseudonym": pseudonym}).encode()
    with store.session() as s, s.begin():
        s.add(
            Consent(
                consent_id="0x" + os.urandom(32).hex(),
                subject_pseudonym=pseudonym,
                receipt=receipt,
                commitment="0x" + "00" * 32,
                valid_from=0,
                valid_until=0,
                created_at="2026-01-01T00:00:00Z",
                status="recorded",
            )
        )
    return pseudonym


def _in(postgres: Cluster, store: Store) -> psycopg.Connection[Any]:
    """The cluster's superuser in the store's database (functions' grants are per database)."""
    return psycopg.connect(
        host=str(postgres.socket_dir),
        user=SUPERUSER,
        dbname=str(store.engine.url.database),
        autocommit=True,
    )


@pytest.fixture
def clerk_store(postgres: Cluster) -> Iterator[tuple[Store, str]]:
    """A store made and used by a role that owns its database and nothing more."""
    role = f"clerk{os.getpid()}_{next(_roles)}"
    name = postgres.create_database()
    with postgres.admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
    store = Store(f"postgresql+psycopg://{role}@/{name}?host={postgres.socket_dir}")
    yield store, role
    store.close()
    postgres.drop_database(name)
    with postgres.admin() as conn:
        conn.execute(f'DROP ROLE "{role}"')


def test_a_role_that_may_not_checkpoint_is_told_what_to_grant(
    postgres: Cluster, clerk_store: tuple[Store, str]
) -> None:
    store, role = clerk_store
    refused = erase_subject(store, _consent(store), requested_by="pytest")
    (left,) = refused.left_on_disk
    assert "write-ahead log still holds the erased values" in left
    assert "pg_switch_wal" in left and "pg_checkpoint" in left
    # the rows are erased all the same, and the table files rewritten
    with store.session() as s:
        assert s.scalars(select(Consent.subject_pseudonym)).all() == [None]
    with _in(postgres, store) as conn:  # what the message says to grant
        conn.execute(f'GRANT pg_checkpoint TO "{role}"')
        conn.execute(f'GRANT EXECUTE ON FUNCTION pg_switch_wal() TO "{role}"')
    try:
        assert erase_subject(store, _consent(store), requested_by="pytest").left_on_disk == ()
    finally:
        with _in(postgres, store) as conn:
            conn.execute(f'REVOKE EXECUTE ON FUNCTION pg_switch_wal() FROM "{role}"')
            conn.execute(f'REVOKE pg_checkpoint FROM "{role}"')


def test_ledger_erase_warns_on_stderr_and_in_its_json(
    clerk_store: tuple[Store, str], data_dir: Path
) -> None:
    store, _ = clerk_store
    subject = Subject(id_type="10", id_number=ID_NUMBER)
    _consent(
        store, default_desensitiser(data_dir).pseudonym("subject_pseudonym", subject.as_record())
    )
    env = {
        "LEDGER_DATA_DIR": str(data_dir),
        "LEDGER_DB_URL": store.engine.url.render_as_string(hide_password=False),
        "LEDGER_SUBJECT_ID": ID_NUMBER,
    }
    done = run("erase", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["consents"] == 1
    (left,) = json.loads(done.stdout)["left_on_disk"]
    # one plain line, unwrapped (beside the structured log line for log collectors)
    (warning,) = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert warning == f"warning: {left}"
    assert ID_NUMBER not in done.stdout + done.stderr


def _wal_recycle(postgres: Cluster) -> str:
    with postgres.admin() as conn:
        row = conn.execute("SELECT setting FROM pg_settings WHERE name = 'wal_recycle'").fetchone()
    assert row is not None
    return str(row[0])


def test_a_server_that_recycles_wal_segments_is_named(postgres: Cluster, pg_url: str) -> None:
    store = Store(pg_url)
    pseudonym = _consent(store)
    with postgres.admin() as conn:
        conn.execute("ALTER SYSTEM SET wal_recycle = on")
        conn.execute("SELECT pg_reload_conf()")
    try:
        wait_until(lambda: _wal_recycle(postgres) == "on")
        (left,) = erase_subject(store, pseudonym, requested_by="pytest").left_on_disk
        assert "wal_recycle = off" in left
    finally:
        with postgres.admin() as conn:
            conn.execute("ALTER SYSTEM RESET wal_recycle")
            conn.execute("SELECT pg_reload_conf()")
        wait_until(lambda: _wal_recycle(postgres) == "off")
        store.close()


def test_no_statistics_are_kept_of_erasable_columns(pg_url: str) -> None:
    store = Store(pg_url)
    for _ in range(20):
        _consent(store)
    with store.engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
        sampled = {
            (table, column)
            for table, column in c.exec_driver_sql("SELECT tablename, attname FROM pg_stats")
        }
    store.close()
    erasable = {
        (t.name, column.name)
        for t in erasable_tables()
        for column in t.columns
        if column.info.get("erasable")
    }
    assert {"consents", "inquiries", "leaf_segments"} <= {t for t, _ in erasable}
    assert ("consents", "status") in sampled  # ANALYZE did sample the table
    assert not erasable & sampled
