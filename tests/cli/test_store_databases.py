"""The ingest path end to end on each store database: real ``ledger`` processes with
``LEDGER_DB_URL`` naming a SQLite file or a PostgreSQL database.

submit -> bundle -> verify -> export -> audit cross-checking that store and export,
then a byte of a stored leaf hash flipped in the database, which the audit must find:
so it is that database the commands wrote and read, not a file beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv
from ledger.store import Batch, Store
from ledger.store.db import STORE_FILE
from ledger.store.leaves import LeafSegment, leaf_count
from tests._postgres import dialect
from tests.cli._cli import run

ROWS = 300


def test_submit_bundle_verify_export_audit(
    db_url: str, data_dir: Path, tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {"LEDGER_DATA_DIR": str(deploy_copy(data_dir)), "LEDGER_DB_URL": db_url}
    rows = tmp_path / "rows.csv"
    write_csv(synthetic_rows(ROWS, seed=11, invalid_ratio=0.05), rows)

    done = run("submit", str(rows), "--batch-size", "120", "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    accepted = report["accepted"]
    assert 0 < accepted < ROWS and accepted + report["rejected"] == ROWS
    assert len(report["batches"]) == -(-accepted // 120)
    # A PostgreSQL store leaves no SQLite file in the data dir.
    assert (data_dir / STORE_FILE).exists() == (dialect(db_url) == "sqlite")
    store = Store(db_url)
    try:
        with store.session() as s:
            assert leaf_count(s) == accepted
            assert set(s.scalars(select(Batch.status))) == {"anchored"}
    finally:
        store.close()

    rejected = {x["row"] for x in report["rejections"]}  # data rows, numbered from 1
    record_id = next(r for n, r in enumerate(_record_ids(rows), 1) if n not in rejected)
    bundle = tmp_path / "one.bundle.json"
    done = run("bundle", record_id, "-o", str(bundle), env=env)
    assert done.returncode == 0, done.stderr
    done = run("verify", str(bundle), env=env)
    assert done.returncode == 0 and "VALID" in done.stdout, done.stdout + done.stderr

    export = tmp_path / "export.jsonl"
    done = run("export", "-o", str(export), env=env)
    assert done.returncode == 0, done.stderr
    assert len(export.read_text().splitlines()) == accepted

    audit = ("audit", "--db", db_url, "--records", str(export), "--json")
    done = run(*audit, env=env)
    assert done.returncode == 0, done.stderr
    clean = json.loads(done.stdout)
    assert clean["clean"] is True and clean["findings"] == []
    assert clean["checked"]["store_leaves"] == clean["checked"]["records"] == accepted

    _flip_a_stored_leaf_hash(db_url)
    done = run(*audit, env=env)
    assert done.returncode != 0
    tampered = json.loads(done.stdout)
    assert tampered["clean"] is False and tampered["findings"]


def _record_ids(rows: Path) -> list[str]:
    """The report ids of the file, in order (the first column)."""
    return [line.split(",", 1)[0] for line in rows.read_text().splitlines()[1:]]


def _flip_a_stored_leaf_hash(db_url: str) -> None:
    """Change one byte of the first segment's first leaf hash, in the database itself."""
    store = Store(db_url)
    try:
        with store.session() as s, s.begin():
            row = s.scalars(select(LeafSegment).order_by(LeafSegment.batch_id).limit(1)).one()
            hashes = bytes([row.hashes[0] ^ 0x01]) + row.hashes[1:]
            s.execute(
                update(LeafSegment)
                .where(LeafSegment.batch_id == row.batch_id, LeafSegment.segment == row.segment)
                .values(hashes=hashes)
            )
    finally:
        store.close()
