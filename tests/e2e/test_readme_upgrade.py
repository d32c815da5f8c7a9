"""The README's "Upgrading a store" commands, as written, on a store of the release before
the schema had revisions (account states keyed by the whole pseudonym)."""

from __future__ import annotations

import shlex
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from ledger.store import Store, schema
from ledger.store.accounts import COLUMNS
from ledger.store.db import default_url
from tests.e2e.test_readme import _ledger, section_commands


def _previous_release_store(data_dir: Path) -> str:
    """A SQLite store of revision 0001's layout, without a revision table, with a state."""
    data_dir.mkdir(mode=0o700)
    url = default_url(data_dir)
    engine = create_engine(url)
    try:
        with schema.locked(engine) as conn:
            command.upgrade(schema.config(conn), schema.BY_PSEUDONYM)
            conn.execute(text("DROP TABLE alembic_version"))
            values = {name: "0x" + "5" * 64 if name == "account" else 1 for name in COLUMNS}
            conn.execute(
                text(
                    f"INSERT INTO account_states ({', '.join(COLUMNS)}) "  # noqa: S608
                    f"VALUES ({', '.join(':' + n for n in COLUMNS)})"
                ),
                values,
            )
    finally:
        engine.dispose()
    return url


def test_the_upgrade_commands_run_as_written(tmp_path: Path) -> None:
    commands = section_commands("Upgrading a store")
    assert [shlex.split(line)[1:3] for line in commands] == [["db", "current"], ["db", "upgrade"]]
    url = _previous_release_store(tmp_path / ".ledger")
    outputs = []
    for line in commands * 2:  # and once more: nothing left to do
        args = shlex.split(line)
        assert args[0] == ".venv/bin/ledger"
        done = _ledger(tmp_path, *args[1:])
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout.strip())
    assert outputs == [
        "0001 (head is 0004: run `ledger db upgrade`)",
        "store upgraded from revision 0001 to 0004",
        "0004 (head)",
        "store already at revision 0004",
    ]
    Store(url).close()  # opens: at the head
