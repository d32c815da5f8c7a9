"""The store's schema under Alembic, on SQLite and PostgreSQL: the revisions make what the
models declare; a store at the head opens, one behind it is refused until upgraded (its
account states carried over), one of a newer release is refused; stores made before the
revisions are known by their layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from ledger.errors import ConfigurationError, IntegrityError, UnavailableError
from ledger.store import Store, schema
from ledger.store.accounts import COLUMNS, ID, SCHEMA, account_key, states_of
from ledger.store.models import Base, erasable_tables
from tests._postgres import dialect


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = create_engine(db_url)
    yield made
    made.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    with schema.locked(engine) as conn:
        (command.downgrade if down else command.upgrade)(schema.config(conn), revision)


def _unstamp(engine: Engine) -> None:
    """Drop the revision table: the store as a release before the migrations left it."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))


def _layout(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, with their names, as the
    database reports them."""
    found = inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(found.get_table_names()):
        if name == "alembic_version":
            continue
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("autoincrement"))
                for c in found.get_columns(name)
            ],
            "primary_key": found.get_pk_constraint(name),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in found.get_indexes(name)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in found.get_unique_constraints(name)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in found.get_foreign_keys(name)
            ),
        }
    return tables


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_the_head_is_the_last_revision() -> None:
    revisions = list(schema.scripts().walk_revisions())  # newest first, one line
    assert [r.revision for r in revisions] == [
        schema.ANCHOR_TXS,
        schema.REBUILDS,
        schema.BY_KEY,
        schema.BY_PSEUDONYM,
    ]
    assert schema.scripts().get_current_head() == schema.head() == schema.HEAD


def _erasable_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in erasable_tables()
        for column in table.columns
        if column.info.get("erasable")
    }


def _without_statistics(engine: Engine) -> set[tuple[str, str]]:
    """PostgreSQL: the (table, column) pairs whose statistics target is 0."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = "
            "a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
            "'public' AND c.relkind = 'r' AND a.attnum > 0 AND a.attstattarget = 0"
        )
        return {(str(t), str(c)) for t, c in rows}


def test_the_revisions_make_the_schema_the_models_declare(db_url: str, engine: Engine) -> None:
    _migrate(engine, "head")
    assert _revision(engine) == schema.head()
    assert _differences(engine) == []
    migrated = _layout(engine)
    # the erasable columns the head revision knows are the models' (no statistics kept)
    revision = schema.scripts().get_revision(schema.REBUILDS)
    assert revision is not None
    assert set(revision.module.ERASABLE_COLUMNS) == _erasable_columns()
    if dialect(db_url) == "postgresql":
        assert _without_statistics(engine) == _erasable_columns()
    # A new store is made from the models and stamped: the same tables, names and all.
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE alembic_version"))
    Store(db_url).close()
    assert _revision(engine) == schema.head()
    assert _differences(engine) == []
    assert _layout(engine) == migrated
    if dialect(db_url) == "postgresql":
        assert _without_statistics(engine) == _erasable_columns()
    assert "account_states" in migrated and "key" in {
        c[0] for c in migrated["account_states"]["columns"]
    }


def test_the_first_revision_keys_account_states_by_pseudonym(engine: Engine) -> None:
    _migrate(engine, schema.BY_PSEUDONYM)
    found = inspect(engine)
    assert found.get_pk_constraint("account_states")["constrained_columns"] == ["account"]
    assert [c["name"] for c in found.get_columns("account_states")] == list(COLUMNS)
    # Every other table is as the models declare it (but those of later revisions).
    differences = _differences(engine)
    assert differences and all(
        "account_states" in repr(d) or "'rebuilds'" in repr(d) or "anchor_txs" in repr(d)
        for d in differences
    )


def _account(i: int) -> str:
    return f"0x{i:064x}"


def _old_states(engine: Engine, accounts: list[str]) -> None:
    """States as the first revision keeps them, one row per account."""
    names = ", ".join(COLUMNS)
    values = ", ".join(f":{n}" for n in COLUMNS)
    rows = [
        {
            name: account
            if name == "account"
            else (i if SCHEMA[name] == pl.Int64 else f"{name}-{i}")
            for name in COLUMNS
        }
        for i, account in enumerate(accounts)
    ]
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO account_states ({names}) VALUES ({values})"), rows)  # noqa: S608


def test_a_store_behind_the_head_is_refused_until_upgraded(db_url: str, engine: Engine) -> None:
    _migrate(engine, schema.BY_PSEUDONYM)
    # Two accounts whose keys collide, and others.
    one, other = "0x" + "ab" * 8 + "1" * 48, "0x" + "ab" * 8 + "2" * 48
    accounts = [one, other, *(_account(i) for i in range(1, 40))]
    _old_states(engine, accounts)
    with pytest.raises(ConfigurationError, match=r"revision 0001.*needs 0004") as refused:
        Store(db_url)
    assert "`ledger db upgrade`" in str(refused.value.hint)
    assert _revision(engine) == schema.BY_PSEUDONYM  # refusing wrote nothing

    assert schema.upgrade(engine) == (schema.BY_PSEUDONYM, schema.head())
    assert _differences(engine) == []
    store = Store(db_url)
    try:
        with store.session() as s:
            found = states_of(s, accounts)
    finally:
        store.close()
    assert found.height == len(accounts) and found.get_column(ID).n_unique() == len(accounts)
    by_account = {row["account"]: row for row in found.iter_rows(named=True)}
    for i, account in enumerate(accounts):
        assert by_account[account]["dpd"] == i and by_account[account]["balance"] == f"balance-{i}"
    with engine.connect() as conn:
        stored = pl.DataFrame(
            [tuple(r) for r in conn.execute(text("SELECT account, key FROM account_states"))],
            schema={"account": pl.String, "key": pl.Int64},
            orient="row",
        )
    assert stored.select(account_key()).to_series().to_list() == stored["key"].to_list()
    assert schema.upgrade(engine) == (schema.head(), schema.head())  # nothing more to do


def test_an_upgrade_down_and_up_again_keeps_the_states(engine: Engine) -> None:
    _migrate(engine, schema.BY_PSEUDONYM)
    accounts = [_account(i) for i in range(7)]
    _old_states(engine, accounts)
    _migrate(engine, "head")
    _migrate(engine, schema.BY_PSEUDONYM, down=True)
    assert _revision(engine) == schema.BY_PSEUDONYM
    with engine.connect() as conn:
        held = sorted(conn.execute(text("SELECT account, dpd FROM account_states")))
    assert [tuple(r) for r in held] == [(a, i) for i, a in enumerate(accounts)]


def test_a_store_of_a_newer_release_is_refused(db_url: str, engine: Engine) -> None:
    Store(db_url).close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(ConfigurationError, match=r"revision f00d is unknown.*newer"):
        Store(db_url)
    with pytest.raises(ConfigurationError, match="revision f00d is unknown"):
        schema.upgrade(engine)


def test_a_store_made_before_the_revisions_is_known_by_its_layout(
    db_url: str, engine: Engine
) -> None:
    # The layout of 0002 (account states by key): stamped as it is opened, then refused
    # until upgraded to the head (0003 has work to do for it on PostgreSQL).
    Base.metadata.create_all(engine)
    assert schema.current(engine) == schema.BY_KEY
    with pytest.raises(ConfigurationError, match="revision 0002"):
        Store(db_url)
    assert _revision(engine) == schema.BY_KEY
    assert schema.upgrade(engine) == (schema.BY_KEY, schema.head())
    Store(db_url).close()
    # The earlier layout (by the whole pseudonym): refused, then stamped and upgraded.
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE alembic_version"))
    _migrate(engine, schema.BY_PSEUDONYM)
    _unstamp(engine)
    _old_states(engine, [_account(5)])
    assert schema.current(engine) == schema.BY_PSEUDONYM
    with pytest.raises(ConfigurationError, match="revision 0001") as refused:
        Store(db_url)
    assert "`ledger db upgrade`" in str(refused.value.hint)
    assert _revision(engine) is None
    assert schema.upgrade(engine) == (schema.BY_PSEUDONYM, schema.head())
    assert _differences(engine) == []
    Store(db_url).close()


def test_a_layout_without_a_revision_is_refused(db_url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE leaves (leaf_hash TEXT PRIMARY KEY)"))
    with pytest.raises(UnavailableError, match=r"earlier CreditAnchor.*`leaves` table"):
        Store(db_url)
    with pytest.raises(UnavailableError, match="ledger audit --rebuild"):
        schema.upgrade(engine)


def test_an_upgrade_that_fails_changes_nothing(db_url: str, engine: Engine) -> None:
    _migrate(engine, schema.BY_PSEUDONYM)
    _unstamp(engine)
    # A pseudonym that is not hex has no key: the carrying over fails part way.
    _old_states(engine, [_account(i) for i in range(3)] + ["0x" + "z" * 64])
    before = _layout(engine)
    with pytest.raises(
        IntegrityError, match=r"from revision 0001 to 0004 failed and changed nothing"
    ):
        schema.upgrade(engine)
    assert _layout(engine) == before  # no new table, no revision table, the old layout
    assert schema.current(engine) == schema.BY_PSEUDONYM
    assert _revision(engine) is None  # not even stamped
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM account_states")).scalar() == 4
