"""``failover_seconds``: the elected anchor sender is killed; how long until the next anchor.

Two ``ledger serve`` processes share a PostgreSQL store (a throw-away cluster, made
as the tests make theirs) and an anvil node. Each round starts them, kills the
elected sender with SIGKILL and at once submits a few rows through the other: it
stores their batch and waits until the anchor sender, now itself, has anchored it.
The figure is the time from the kill to that answer (issue 20: at most 10 s). The
answer comes after the batch's anchor is mined and recorded, so it includes one
anchor on anvil; ``anchor_seconds`` is the same submission while a sender runs.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import devnode
import httpx

from ledger.records import synthetic_rows

REPO = Path(__file__).resolve().parent.parent
#: Rows of the submission timed after each kill: one small batch.
ROWS = 50
START_SECONDS = 120.0


def _cluster() -> Any:
    """A throw-away PostgreSQL cluster with the settings the bench's ``pg`` section runs."""
    from bench_pg import SERVER_SETTINGS
    from pgcluster import start_cluster

    return start_cluster(SERVER_SETTINGS)


def _until(condition: Callable[[], bool], what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:g} s")
        time.sleep(0.05)


def _ready(url: str) -> dict[str, Any] | None:
    """``/readyz``'s answer, or None while the server does not answer yet."""
    try:
        answer = httpx.get(url + "/readyz", timeout=30)
    except httpx.TransportError:
        return None
    return dict(answer.json()) if answer.status_code == 200 else None


def _ledger(env: dict[str, str], *args: str) -> str:
    ledger = str(Path(sys.executable).with_name("ledger"))
    done = subprocess.run([ledger, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


@contextmanager
def serve(env: dict[str, str], port: int, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """``ledger serve --workers N`` on ``port``; its log is shown when the caller fails."""
    ledger = str(Path(sys.executable).with_name("ledger"))
    log = Path(env["LEDGER_DATA_DIR"]).parent / f"serve-{port}.log"
    args = [ledger, "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=out)
    try:
        yield proc
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=60)


def _submit(url: str, headers: dict[str, str], seed: int) -> float:
    """Seconds until ``url`` answers a submission of ROWS new rows (anchored)."""
    began = time.monotonic()
    answer = httpx.post(
        url + "/v1/submissions",
        json={"records": list(synthetic_rows(ROWS, seed=seed))},
        headers=headers,
        timeout=300,
    )
    answer.raise_for_status()
    assert answer.json()["batches"], answer.text
    return time.monotonic() - began


def _round(
    env: dict[str, str], headers: dict[str, str], seed: int, free_port: Callable[[], int]
) -> tuple[float, float]:
    """(failover seconds, anchor seconds) of one kill."""
    first, second = free_port(), free_port()
    a, b = f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"
    with serve(env, first) as killed:
        _until(lambda: bool((_ready(a) or {}).get("anchor_sender")), "the first one elected")
        with serve(env, second):
            _until(lambda: _ready(b) is not None, "the second one ready")
            return _kill(killed, b, headers, seed)


def _kill(
    sender: subprocess.Popen[bytes], other: str, headers: dict[str, str], seed: int
) -> tuple[float, float]:
    anchor = _submit(other, headers, seed)  # anchored by the sender; warms ``other`` up too
    sender.send_signal(signal.SIGKILL)
    began = time.monotonic()
    _submit(other, headers, seed + 1)
    return time.monotonic() - began, anchor


@contextmanager
def deployed(work: Path, free_port: Callable[[], int]) -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL cluster and an anvil node, the registry deployed on them:
    the environment of ``ledger`` commands (data dir ``work/data``) on that store and chain."""
    cluster = _cluster()
    try:
        port = free_port()
        with (work / "anvil.log").open("wb") as log:
            anvil = devnode.spawn(port, log)
        try:
            devnode.wait_ready(anvil, devnode.url_for(port))
            env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
            env.update(
                LEDGER_DATA_DIR=str(work / "data"),
                LEDGER_DB_URL=cluster.url(cluster.create_database()),
                LEDGER_RPC_URL=devnode.url_for(port),
            )
            _ledger(env, "deploy", "--fund-from-dev-node")
            yield env
        finally:
            anvil.terminate()
            anvil.wait(timeout=30)
    finally:
        cluster.stop()


def bench_failover(quick: bool, free_port: Callable[[], int]) -> dict[str, Any]:
    rounds = 1 if quick else 3
    with (
        tempfile.TemporaryDirectory(prefix="credit-anchor-failover-") as tmp,
        deployed(Path(tmp), free_port) as env,
    ):
        added = _ledger(env, "partner", "add", "bench", "--role", "operator", "--json")
        headers = {"Authorization": f"Bearer {json.loads(added)['key']}"}
        timings = [_round(env, headers, 100 + 2 * i, free_port) for i in range(rounds)]
    failovers = [f for f, _ in timings]
    return {
        "failover_seconds": round(statistics.median(failovers), 3),
        "failover_seconds_max": round(max(failovers), 3),
        "failover_rounds": rounds,
        # The same submission's answer with a sender running: the anchor's own share.
        "failover_anchor_seconds": round(statistics.median(a for _, a in timings), 3),
    }
