"""The PostgreSQL fixture itself: a cluster reached over its own socket only, a fresh
database per test, and a clear failure (never a skip) when the server is missing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text

from scripts import pgcluster
from tests import _postgres
from tests._postgres import Cluster


def test_the_cluster_listens_on_its_socket_only(postgres: Cluster) -> None:
    with postgres.admin() as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
        sockets = conn.execute("SHOW unix_socket_directories").fetchone()
    assert listen == ("",)
    assert sockets == (str(postgres.socket_dir),)
    assert any(p.name.startswith(".s.PGSQL.") for p in postgres.socket_dir.iterdir())


def test_each_database_starts_empty_and_is_dropped_after(postgres: Cluster) -> None:
    first = postgres.create_database()
    engine = create_engine(postgres.url(first))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE left_behind (x integer)"))
    engine.dispose()
    second = postgres.create_database()
    engine = create_engine(postgres.url(second))
    assert second != first
    assert not inspect(engine).has_table("left_behind")
    with engine.connect():  # an open connection does not keep it from being dropped
        postgres.drop_database(second)
    engine.dispose()
    postgres.drop_database(first)
    with postgres.admin() as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert not {first, second} & names
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=str(postgres.socket_dir), user="postgres", dbname=first).close()


def test_a_missing_server_fails_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, no initdb
    monkeypatch.setattr(pgcluster, "DEBIAN_DIR", tmp_path / "none")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install postgresql"):
        _postgres.start_cluster()
