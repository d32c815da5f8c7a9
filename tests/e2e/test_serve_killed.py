"""``kill -9`` a real ``ledger serve`` in the middle of a large ``POST /v1/submissions``.

A request's rows are raw personal data. When the server dies mid-request,
nothing of them may rest anywhere under the data dir (issue 17, finding 3): every
file is searched for the canaries (:mod:`tests._canaries`: plain, hex, base64,
UTF-16, inside zstd frames, the store's records decompressed, SQLite's WAL too).
The same request sent to the restarted server resumes the same submission, and
every valid row ends up stored and anchored exactly once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.config import MAX_ITEMS
from tests._canaries import BAD, bad_rows, files_under, leaks_in_files, rows_for
from tests._storebytes import readable_bytes
from tests.anchoring.test_crash import check_exactly_once
from tests.e2e.test_serve import HTTP, _env, _key, serve_process

#: The largest request the API takes: its ~10 MB of rows are in flight for seconds.
ROWS = MAX_ITEMS
#: Small batches: the store shows the submission's progress a batch at a time.
BATCH_SIZE = 200
#: A generous bound on a 10000-row submission on a busy two-core machine.
REQUEST_TIMEOUT = 300.0


def progress(data_dir: Path) -> tuple[str, str, int] | None:
    """(id, status, rows done) of the store's one submission; None before it is there."""
    con = sqlite3.connect(f"file:{data_dir / 'ledger.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT id, status, rows_done FROM submissions").fetchone()
    except sqlite3.OperationalError:  # no store or no table yet
        return None
    finally:
        con.close()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def wait_for_stored_rows(data_dir: Path, deadline: float) -> tuple[str, str, int]:
    """Poll until the submission has rows stored (the canaries are in its first batch)."""
    while (seen := progress(data_dir)) is None or seen[2] == 0:
        assert time.monotonic() < deadline, f"no batch stored in time: {seen}"
        time.sleep(0.05)
    return seen


def canary_rows() -> list[dict[str, Any]]:
    """ROWS rows that all name canary borrowers; the refused ones first."""
    refused = bad_rows("CANARY-K", seed=71)
    return refused + rows_for("CANARY-K", seed=72, n=ROWS - len(refused))


@pytest.mark.slow
def test_a_server_killed_mid_submission_leaves_no_raw_row_and_the_retry_resumes(
    tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    data_dir = deploy_copy(tmp_path / "data")  # what `ledger deploy` leaves
    headers = _key(data_dir, "ops", "operator")
    env = {**_env(data_dir), "LEDGER_BATCH_SIZE": str(BATCH_SIZE)}
    body = {"records": canary_rows()}

    with (
        ThreadPoolExecutor(1) as pool,
        serve_process(env, tmp_path / "serve.log") as (url, proc),
    ):
        sent = pool.submit(
            HTTP.post, url + "/v1/submissions", json=body, headers=headers, timeout=REQUEST_TIMEOUT
        )
        submission, status, done = wait_for_stored_rows(
            data_dir, time.monotonic() + REQUEST_TIMEOUT
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert status == "open" and done < ROWS, "the submission ended before the kill"
        with pytest.raises(httpx.TransportError):
            sent.result(timeout=60).raise_for_status()

    files = list(files_under(data_dir))
    # the scan reads the records stored before the kill (so it would see a raw value there)
    assert b'"record_id":"CANARY-K-0"' in readable_bytes(data_dir / "ledger.sqlite")
    leaks = leaks_in_files(files)
    assert not leaks, leaks[:10]

    with serve_process(env, tmp_path / "serve-again.log") as (url, _proc):
        again = HTTP.post(
            url + "/v1/submissions", json=body, headers=headers, timeout=REQUEST_TIMEOUT
        )
    assert again.status_code == 200, again.text
    report = again.json()
    valid = ROWS - len(BAD) - 1
    assert report["submission_id"] == submission and not report["already_complete"]
    assert report["accepted"] == valid and report["rejected"] == len(BAD) + 1
    check_exactly_once(data_dir, valid)
    leaks = leaks_in_files(files_under(data_dir))
    assert not leaks, leaks[:10]
