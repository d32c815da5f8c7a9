"""``kill -9`` a real ``ledger submit`` at the worst moments; a re-run loses and duplicates nothing.

Each case arms a failpoint (see ``ledger/_failpoints.py``) so the subprocess
SIGKILLs itself exactly there, then runs the same command again without it and
checks: every valid row is stored exactly once, every batch is anchored exactly
once, and the chain and the store agree batch by batch. The store is SQLite or
PostgreSQL (``db_url``, as ``LEDGER_DB_URL``); the clean reference run counting the
valid rows uses a SQLite data dir of its own, once per file and arguments in this module
(every case and database compares with the same count). Each data dir is a copy of one
``ledger deploy`` (``deployed_template``): the deployment is not what is tested here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.chain import Chain, Deployment
from ledger.chain.registry import AnchorRegistryClient
from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv, write_jsonl
from ledger.store import Batch, Store, Submission
from tests._leaves import all_leaves
from tests.conftest import COMMAND_TIMEOUT, copy_deployment, ledger_cli

ROWS = 120
BATCH = 25


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash-files")


@pytest.fixture(scope="module")
def portfolio(files: Path) -> tuple[Path, int]:
    rows = list(synthetic_rows(ROWS, seed=7, invalid_ratio=0.1))
    path = files / "portfolio.csv"
    write_csv(rows, path)
    return path, ROWS


def _as_jsonl(path: Path) -> Path:
    jsonl = path.with_suffix(".jsonl")
    if not jsonl.exists():
        write_jsonl(synthetic_rows(ROWS, seed=7, invalid_ratio=0.1), jsonl)
    return jsonl


def _ledger(
    data_dir: Path, *args: str, failpoints: str = "", db_url: str | None = None
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATA_DIR"] = str(data_dir)
    if db_url is not None:
        env["LEDGER_DB_URL"] = db_url
    if failpoints:
        env["LEDGER_FAILPOINTS"] = failpoints
    return subprocess.Popen(
        [ledger_cli(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _run(
    data_dir: Path, *args: str, failpoints: str = "", db_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = _ledger(data_dir, *args, failpoints=failpoints, db_url=db_url)
    out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def check_exactly_once(data_dir: Path, valid_rows: int, db_url: str | None = None) -> None:
    store = Store.open(data_dir, db_url)
    with store.session() as s:
        stored = all_leaves(s)
        leaves = len(stored)
        distinct = len({x.record_id for x in stored})
        batches = list(s.scalars(select(Batch)))
        (sub,) = s.scalars(select(Submission))
    store.close()
    assert leaves == distinct == valid_rows
    assert sub.status == "complete"
    assert sub.accepted == valid_rows
    assert all(b.status == "anchored" for b in batches)
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir) as chain:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        assert registry.anchor_count() == len(batches)
        for b in batches:
            record = registry.anchor_by_batch(bytes.fromhex(b.batch_id[2:]))
            assert record is not None
            assert "0x" + record.root.hex() == b.root
            assert record.tree_size == b.tree_size


@pytest.fixture(scope="module")
def valid_rows(deployed_template: Path, files: Path) -> Callable[..., int]:
    """How many rows a clean, uninterrupted run accepts (in a separate data dir), once
    per file and arguments."""
    counted: dict[tuple[str, ...], int] = {}

    def count(path: Path, *args: str, rows: int = ROWS) -> int:
        key = (str(path), *args)
        if key not in counted:
            clean = files / f"clean-{len(counted)}"
            copy_deployment(deployed_template, clean)
            done = _run(clean, "submit", str(path), *args, "--json")
            assert done.returncode == 0, done.stderr
            counted[key] = int(json.loads(done.stdout)["accepted"])
        accepted = counted[key]
        assert 0 < accepted < rows
        return accepted

    return count


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "failpoint"),
    [
        ("jsonl", "chunk-processed@1"),  # JSON Lines: processed, nothing stored yet
        ("csv", "chunk-processed@1"),  # processed, nothing stored yet
        ("csv", "batch-stored@1"),
        ("csv", "batch-stored@3"),
        ("csv", "anchor-mined@1"),
        ("csv", "anchor-mined@2"),
    ],
)
def test_killed_at_a_failpoint_then_resumed(
    data_dir: Path,
    db_url: str,
    portfolio: tuple[Path, int],
    valid_rows: Callable[..., int],
    deploy_copy: Callable[[Path], Path],
    fmt: str,
    failpoint: str,
) -> None:
    path = portfolio[0] if fmt == "csv" else _as_jsonl(portfolio[0])
    valid = valid_rows(path, "--batch-size", str(BATCH))
    deploy_copy(data_dir)
    args = ("submit", str(path), "--batch-size", str(BATCH))
    killed = _run(data_dir, *args, failpoints=failpoint, db_url=db_url)
    assert killed.returncode == -signal.SIGKILL
    resumed = _run(data_dir, *args, "--json", db_url=db_url)
    assert resumed.returncode == 0, resumed.stderr
    check_exactly_once(data_dir, valid, db_url)


@pytest.mark.slow
def test_killed_while_threads_process_a_large_file_then_resumed(
    data_dir: Path,
    db_url: str,
    files: Path,
    valid_rows: Callable[..., int],
    deploy_copy: Callable[[Path], Path],
) -> None:
    """Several chunks on two threads, several batches: killed after the 3rd is stored."""
    rows = 4_000
    path = files / "large.csv"
    if not path.exists():
        write_csv(synthetic_rows(rows, seed=8, invalid_ratio=0.05), path)
    args = ("--batch-size", "500", "--workers", "2")
    valid = valid_rows(path, *args, rows=rows)
    deploy_copy(data_dir)
    killed = _run(data_dir, "submit", str(path), *args, failpoints="batch-stored@3", db_url=db_url)
    assert killed.returncode == -signal.SIGKILL
    resumed = _run(data_dir, "submit", str(path), *args, "--json", db_url=db_url)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["accepted"] == valid
    check_exactly_once(data_dir, valid, db_url)


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed(
    data_dir: Path,
    db_url: str,
    portfolio: tuple[Path, int],
    valid_rows: Callable[..., int],
    deploy_copy: Callable[[Path], Path],
) -> None:
    path, _ = portfolio
    valid = valid_rows(path, "--batch-size", str(BATCH))
    deploy_copy(data_dir)
    args = ("submit", str(path), "--batch-size", str(BATCH))
    for delay in (0.8, 1.3, 1.9):
        proc = _ledger(data_dir, *args, db_url=db_url)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    resumed = _run(data_dir, *args, "--json", db_url=db_url)
    assert resumed.returncode == 0, resumed.stderr
    check_exactly_once(data_dir, valid, db_url)
