"""The ``delivery`` section of ``scripts/bench.py``: risk alerts from commit to the bank's 2xx.

Three receiving banks (``scripts/bench_receiver.py`` under uvicorn, one process
each, on loopback) and the real ``ledger alerts dispatch`` (a child process,
default settings but the loopback allowlist). Alerts are written in one
transaction; each alert's time runs from that commit to the moment its bank
answered 2xx (both wall clock, one machine):

- ``alert_delivery_p95_ms`` (and ``_p50_ms``): 1000 alerts in all, a third per bank
  (``alert_delivery_alerts``); ``alerts_per_s``: deliveries per second of that run;
- ``alert_delivery_3000_p95_ms``, ``alerts_3000_per_s``: 1000 alerts for each bank;
- ``plain_posts_per_s``, in the same run: the dispatcher's HTTP client (urllib3)
  POSTing as many bodies to the same banks from as many threads, with no store, no
  claims and no signatures — what the network path alone allows.
  ``alerts_to_plain_posts_ratio`` relates them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3

from ledger.alerts.destinations import Allowlist
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.outbox import NewAlert, enqueue
from ledger.alerts.sealing import Sealer
from ledger.config import Settings
from ledger.store import Store
from ledger.store.apikeys import create_key

BANKS = ("BANK0", "BANK1", "BANK2")
TIMEOUT = 600.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _receivers() -> Iterator[list[str]]:
    """Three banks' servers; their base URLs."""
    ports = [_free_port() for _ in BANKS]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench_receiver:app",
                "--app-dir",
                str(Path(__file__).parent),
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            _wait(lambda url=url: _answers(url) is not None, "receiver start")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def _answers(url: str) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as got:  # noqa: S310 - loopback
            answered: dict[str, float] = json.load(got)
            return answered
    except OSError:
        return None


def _wait(condition: Any, what: str, pause: float = 0.01) -> Any:
    """What ``condition`` returns once it is truthy (polled every ``pause`` seconds)."""
    deadline = time.monotonic() + TIMEOUT
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(pause)
    return value


def _delivered(urls: list[str], ids: list[str]) -> dict[str, float] | None:
    answered: dict[str, float] = {}
    for url in urls:
        answered |= _answers(url) or {}
    return answered if answered.keys() >= set(ids) else None


def _run(store: Store, urls: list[str], per_bank: int, tag: str) -> dict[str, Any]:
    """Write ``per_bank`` alerts for each bank in one transaction; time them to the 2xx."""
    alerts = [
        NewAlert(bank, "overdue.bucket_rolled", {"n": n, "run": tag, "days_past_due": 61}, None)
        for n in range(per_bank)
        for bank in BANKS
    ]
    with store.session() as s, s.begin():
        ids = enqueue(s, alerts)
    committed = time.time()
    answered = _wait(lambda: _delivered(urls, ids), tag, pause=0.05)
    latencies = sorted((answered[i] - committed) * 1000 for i in ids)
    return {
        "alerts": len(ids),
        "p50_ms": round(latencies[len(ids) // 2]),
        "p95_ms": round(latencies[int(len(ids) * 0.95)]),
        "per_s": round(len(ids) / (latencies[-1] / 1000)),
    }


def _plain_posts(urls: list[str], count: int, threads: int) -> float:
    """POSTs per second to the same banks with the dispatcher's HTTP client (urllib3
    pools, ``threads`` at a time) and nothing else: no store, no claims, no signing."""
    body = json.dumps({"data": {"n": 0}, "timestamp": "", "type": "plain"}).encode()
    with urllib3.PoolManager(maxsize=threads, retries=False) as pools:

        def post(n: int) -> None:
            answer = pools.request("POST", urls[n % len(urls)] + "/plain", body=body)
            assert answer.status == 204, answer.status

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(post, range(count)))
        return count / (time.perf_counter() - start)


def bench_delivery(quick: bool) -> dict[str, Any]:
    ledger = shutil.which("ledger", path=str(Path(sys.executable).parent)) or "ledger"
    with tempfile.TemporaryDirectory(prefix="credit-anchor-delivery-") as tmp, _receivers() as urls:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, alert_allow_hosts=("127.0.0.1",))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env |= {"LEDGER_DATA_DIR": tmp, "LEDGER_ALERT_ALLOW_HOSTS": '["127.0.0.1"]'}
        store = Store.open(data_dir)
        sealer, allow = Sealer.for_data_dir(data_dir), Allowlist.parse(settings.alert_allow_hosts)
        for bank, url in zip(BANKS, urls, strict=True):
            create_key(store, bank.lower(), "partner", institution=bank)
            set_endpoint(store, sealer, bank, url + "/hook", allow=allow)
        proc = subprocess.Popen([ledger, "alerts", "dispatch"], env=env, stderr=subprocess.DEVNULL)
        try:
            _run(store, urls, 1, "warm-up")  # the dispatcher is up and connected
            small = _run(store, urls, 10 if quick else 334, "1000")
            large = None if quick else _run(store, urls, 1000, "3000")
        finally:
            proc.terminate()
            proc.wait()
            store.close()
        plain = _plain_posts(urls, 3 * (10 if quick else 1000), settings.alert_concurrency)
    results = {
        "alert_delivery_alerts": small["alerts"],
        "alert_delivery_p50_ms": small["p50_ms"],
        "alert_delivery_p95_ms": small["p95_ms"],
        "alerts_per_s": small["per_s"],
        "plain_posts_per_s": round(plain),
    }
    if large is not None:
        results |= {
            "alert_delivery_3000_p95_ms": large["p95_ms"],
            "alerts_3000_per_s": large["per_s"],
        }
    return results
