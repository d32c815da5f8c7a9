"""The ``pg`` section of the benchmark: the same file submitted to PostgreSQL and to SQLite.

``pg_ingest_records_per_s``: ``ledger submit`` end to end (file -> anchored) into a
store on a throw-away PostgreSQL cluster started here (``scripts/pgcluster.py``),
over its unix socket; ``ingest_records_per_s``: the same file into the data dir's
SQLite file. Runs alternate, :data:`RUN_PAIRS` pairs, each side's fastest counts:
``pg_ingest_ratio`` = PostgreSQL / SQLite (issue 20: at least 0.75 on 1M rows).

The cluster is durable as SQLite's store is (``synchronous=FULL``): fsync,
synchronous_commit and full_page_writes on, with the server settings for bulk loads
that the README's "Running at scale" section recommends (:data:`SERVER_SETTINGS`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from pgcluster import start_cluster

#: Durable, as the SQLite store (a committed batch survives power loss), plus what a
#: bulk-loading store's server wants: shared buffers that hold the leaf-key indexes'
#: hot pages, WAL room so that a large submission does not force checkpoints (each
#: writes every dirty page, then every page touched again is logged whole), and WAL
#: compressed (full-page images of index pages compress well).
SERVER_SETTINGS: Final = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "'1GB'",
    "wal_buffers": "'64MB'",
    "max_wal_size": "'8GB'",
    "min_wal_size": "'1GB'",
    "checkpoint_timeout": "'15min'",
    "checkpoint_completion_target": "0.9",
    "wal_compression": "zstd",
    "maintenance_work_mem": "'256MB'",
    # Erasure needs it (README): removed WAL segments are deleted, not kept for reuse.
    "wal_recycle": "off",
    "log_min_messages": "warning",
}
#: Alternating PostgreSQL and SQLite runs; each side's fastest is its figure.
RUN_PAIRS: Final = 2

Submit = Callable[..., dict[str, Any]]


def bench_pg(rows: int, work: Path, portfolio: Path, submit: Submit) -> dict[str, Any]:
    """The figures of the module doc; ``submit`` is bench.py's ``_submit_timed`` (one way
    of timing a submission for every section), ``portfolio`` the file of ``rows`` rows."""
    cluster = start_cluster(SERVER_SETTINGS)
    pg: list[dict[str, Any]] = []
    sqlite: list[dict[str, Any]] = []
    try:
        for pair in range(RUN_PAIRS):
            name = cluster.create_database()
            pg.append(
                submit(work / f"pg-{pair}", portfolio, rows, alerts=True, db_url=cluster.url(name))
            )
            cluster.drop_database(name)
            sqlite.append(submit(work / f"sqlite-{pair}", portfolio, rows, alerts=True))
            for run in (pg[-1], sqlite[-1]):
                shutil.rmtree(run.pop("_data_dir"))
    finally:
        cluster.stop()
    fastest_pg = min(pg, key=lambda run: run["ingest_seconds"])
    fastest_sqlite = min(sqlite, key=lambda run: run["ingest_seconds"])
    return {
        "pg_ingest_rows": rows,
        "pg_ingest_records_per_s": fastest_pg["ingest_records_per_s"],
        "pg_ingest_seconds_runs": [run["ingest_seconds"] for run in pg],
        "pg_ingest_cpu_us_per_record": min(run["ingest_cpu_us_per_record"] for run in pg),
        "pg_ingest_peak_rss_mib": max(run["ingest_peak_rss_mib"] for run in pg),
        "pg_sqlite_ingest_records_per_s": fastest_sqlite["ingest_records_per_s"],
        "pg_sqlite_ingest_seconds_runs": [run["ingest_seconds"] for run in sqlite],
        "pg_sqlite_ingest_cpu_us_per_record": min(
            run["ingest_cpu_us_per_record"] for run in sqlite
        ),
        "pg_ingest_ratio": round(
            fastest_pg["ingest_records_per_s"] / fastest_sqlite["ingest_records_per_s"], 3
        ),
        "pg_server_settings": SERVER_SETTINGS,
    }
