"""A store of the previous release's schema, with data in it, upgraded by ``ledger db
upgrade`` on SQLite and PostgreSQL: every old proof bundle verifies and comes out of the
upgraded store byte for byte, and the account states are carried over, each under its
key, in a table that takes new ones.

The store is made by real ``ledger`` processes (submit with co-funded accounts,
export, over a copy of what ``ledger deploy`` leaves), then taken to revision 0001 —
the layout of the release before account states were keyed, with no revision table,
as that release left it — which every command refuses with one line naming
``ledger db upgrade``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from alembic import command
from sqlalchemy import create_engine, text

from ledger.chain import open_chain
from ledger.chain.attest import check_anchor
from ledger.config import Settings
from ledger.proofs import ProofBundle, verify_bundle
from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv
from ledger.store import Store, schema
from ledger.store.accounts import COLUMNS, ID, SCHEMA, account_key, put_states, states_of
from ledger.store.db import default_url
from tests.cli._cli import one_error_line, run

ROWS = 200
#: An account pseudonym the submitted file does not have.
NEW_ACCOUNT = "0x" + "f" * 64


def _states(db_url: str) -> pl.DataFrame:
    """The stored account states (not their row ids or keys), in account order."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM account_states"))  # noqa: S608
            found = pl.DataFrame([tuple(r) for r in rows], schema=list(COLUMNS), orient="row")
    finally:
        engine.dispose()
    return found.sort("account")


def _to_the_previous_release(db_url: str) -> None:
    """The store as the release before revisions left it: layout 0001, no revision table."""
    engine = create_engine(db_url)
    try:
        with schema.locked(engine) as conn:
            command.downgrade(schema.config(conn), schema.BY_PSEUDONYM)
            conn.execute(text("DROP TABLE alembic_version"))
        with engine.connect() as conn:
            columns = [c["name"] for c in conn.dialect.get_columns(conn, "account_states")]
    finally:
        engine.dispose()
    assert columns == list(COLUMNS)


@pytest.mark.slow
def test_an_upgraded_store_proves_every_old_record(
    db_url: str, data_dir: Path, tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {"LEDGER_DATA_DIR": str(data_dir), "LEDGER_DB_URL": db_url}
    rows = tmp_path / "rows.csv"
    write_csv(synthetic_rows(ROWS, seed=11, invalid_ratio=0.05), rows)
    deploy_copy(data_dir)  # deploy opens no store: the same on SQLite and PostgreSQL
    done = run("submit", str(rows), "--batch-size", "80", "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["batches"]) > 1
    old_export = tmp_path / "old.jsonl"
    assert run("export", "-o", str(old_export), env=env).returncode == 0
    lines = old_export.read_text().splitlines()
    assert len(lines) == report["accepted"]
    record_id = json.loads(lines[-1])["record"]["record_id"]
    states = _states(db_url)
    assert states.height > 0  # the file has co-funded accounts

    _to_the_previous_release(db_url)
    refused = run("bundle", record_id, env=env)
    line = one_error_line(refused)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "revision 0001" in line and "`ledger db upgrade`" in line
    # The API too, before it starts: one line, no traceback from its startup.
    served = run("serve", env=env)
    assert one_error_line(served) == line
    done = run("db", "current", env=env)
    assert done.returncode == 0 and done.stdout.startswith("0001 (head is 0004"), done.stdout

    done = run("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "store upgraded from revision 0001 to 0004"

    # Every old proof, byte for byte, from the upgraded store; and each verifies.
    new_export = tmp_path / "new.jsonl"
    assert run("export", "-o", str(new_export), env=env).returncode == 0
    assert new_export.read_bytes() == old_export.read_bytes()
    anchors: dict[bytes, ProofBundle] = {}
    for line in lines:
        bundle = ProofBundle.loads(line)
        verify_bundle(bundle)
        first = anchors.setdefault(bundle.batch_id, bundle)
        assert (first.root, first.anchor) == (bundle.root, bundle.anchor)
    assert len(anchors) == len(report["batches"])
    with open_chain(Settings(data_dir=data_dir), holder="pytest", read_only=True) as chain:
        for bundle in anchors.values():  # each batch's anchor, on chain
            check_anchor(chain, bundle)

    # The account states, each under its key; and the upgraded table takes new ones.
    upgraded = _states(db_url)
    assert upgraded.equals(states)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            keyed = pl.DataFrame(
                [tuple(r) for r in conn.execute(text("SELECT account, key FROM account_states"))],
                schema={"account": pl.String, "key": pl.Int64},
                orient="row",
            )
    finally:
        engine.dispose()
    assert keyed["key"].to_list() == keyed.select(account_key()).to_series().to_list()
    store = Store(db_url)
    try:
        with store.session() as s, s.begin():
            put_states(s, _new_state(states.row(0, named=True)))
        with store.session() as s:
            found = states_of(s, [*keyed["account"], NEW_ACCOUNT])
    finally:
        store.close()
    assert found.height == states.height + 1
    assert found[ID].n_unique() == found.height


def _new_state(like: dict[str, object]) -> pl.DataFrame:
    """A state for an account the store does not have yet, like ``like``."""
    return pl.DataFrame(
        [{ID: None, **like, "account": NEW_ACCOUNT}], schema={ID: pl.Int64, **SCHEMA}
    )


def test_upgrading_a_store_of_a_newer_release_fails_with_one_line(data_dir: Path) -> None:
    url = default_url(data_dir)
    Store(url).close()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    finally:
        engine.dispose()
    done = run("db", "upgrade", "--data-dir", str(data_dir))
    line = one_error_line(done)
    assert done.returncode == 1
    assert "revision f00d is unknown to this release" in line
