"""CreditAnchor benchmark: gas and speed figures as JSON (``make bench``).

A benchmark, not a test: it asserts nothing. Gas figures are exact and
repeatable; timings are quoted beside a baseline measured in the same run,
because this machine is shared and noisy.

API figures alternate the real and the trivial server in rounds (medians).

Usage: python scripts/bench.py --json FILE [--quick]
       [--only chain|ingest|pg|api|pgapi|consent|audit|delivery|ui|failover ...] [--rows N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient, BatchKind
from ledger.proofs import MerkleTree, canonical_bytes, leaf_hash
from ledger.records import synthetic_rows, write_csv
from ledger.store import Batch, Store, leaves

#: Anchors measured after the first (the first one pays for zero-to-non-zero
#: writes of the shared counters, a one-off cost per registry).
STEADY_ANCHORS = 20
#: Tree sizes whose anchors are compared: the contract only ever sees the root.
ANCHOR_TREE_SIZES = (1, 1_000, 1_000_000, 2**40)
#: Proof depths for the per-level cost of verifyInclusion (tree size 2**depth).
VERIFY_DEPTHS = (1, 4, 8, 12, 16, 20)


def _execution_gas(chain: Chain, address: str, fn: Any) -> int:
    """Gas of the EVM execution alone (no intrinsic or calldata cost), read from py-evm.

    This is what a contract calling the function pays; a transaction calling it
    directly also pays 21000 and calldata, where EIP-7623's floor dominates.
    """
    from eth.vm.spoof import SpoofTransaction
    from eth_tester.backends.pyevm.main import _execute_and_revert_transaction
    from eth_utils import to_canonical_address

    backend = chain.w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
    sender = to_canonical_address(chain.address)
    tx = {
        "from": sender,
        "to": to_canonical_address(address),
        "data": bytes.fromhex(fn._encode_transaction_data()[2:]),
        "gas": 5_000_000,
        "value": 0,
    }
    unsigned = backend._get_normalized_and_unsigned_evm_transaction(tx, "latest")
    spoofed = SpoofTransaction(unsigned, from_=sender)
    computation = _execute_and_revert_transaction(backend.chain, spoofed, "latest")
    assert computation.is_success
    return int(computation.get_gas_used())


def _tx_gas(chain: Chain, fn: Any) -> int:
    tx = fn.build_transaction({**chain._base_tx(), "gas": 1_000_000})
    return int(chain.send(tx)["gasUsed"])


def bench_deploy_and_anchor(chain: Chain, data_dir: Path) -> dict[str, Any]:
    deployment, _ = deploy(chain, data_dir)
    deploy_gas = {}
    for name, info in deployment.registries.items():
        receipt = chain.w3.eth.get_transaction_receipt(info.tx_hash)
        deploy_gas[name] = int(receipt["gasUsed"])
    registry = AnchorRegistryClient.from_deployment(chain, deployment)

    def one(size: int) -> int:
        event = registry.anchor(
            os.urandom(32), os.urandom(32), size, BatchKind.CREDIT_DATA, os.urandom(32)
        )
        assert event.gas_used is not None
        return event.gas_used

    first = one(1000)
    steady = [one(1000) for _ in range(STEADY_ANCHORS)]
    by_size = {str(size): one(size) for size in ANCHOR_TREE_SIZES}
    return {
        "deploy_gas": sum(deploy_gas.values()),
        "deploy_gas_by_contract": deploy_gas,
        "anchor_gas": int(statistics.median(steady)),
        "anchor_gas_max": max(steady),
        "anchor_gas_first": first,
        "anchor_gas_by_tree_size": by_size,
        "registry": registry,
    }


def bench_verify_inclusion(chain: Chain, registry: AnchorRegistryClient) -> dict[str, Any]:
    execution, as_tx = {}, {}
    for depth in VERIFY_DEPTHS:
        size = 2**depth
        leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
        tree = MerkleTree(leaves)
        index = size // 3
        proof = tree.inclusion_proof(index)
        fn = registry.contract.functions.verifyInclusion(
            leaves[index], index, size, proof, tree.root
        )
        assert chain.call(fn) is True
        execution[str(depth)] = _execution_gas(chain, registry.address, fn)
        as_tx[str(depth)] = _tx_gas(chain, fn)
    lo, hi = str(VERIFY_DEPTHS[0]), str(VERIFY_DEPTHS[-1])
    levels = VERIFY_DEPTHS[-1] - VERIFY_DEPTHS[0]
    return {
        "verify_inclusion_gas_per_level": round((execution[hi] - execution[lo]) / levels, 1),
        "verify_inclusion_execution_gas_by_depth": execution,
        "verify_inclusion_tx_gas_per_level": round((as_tx[hi] - as_tx[lo]) / levels, 1),
        "verify_inclusion_tx_gas_by_depth": as_tx,
    }


def bench_tree_speed(quick: bool) -> dict[str, Any]:
    size = 10_000 if quick else 100_000
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
    start = time.perf_counter()
    MerkleTree(leaves)
    tree_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(size):
        leaf_hash(i.to_bytes(8, "big"))
    baseline_s = time.perf_counter() - start
    return {
        "merkle_tree_leaves": size,
        "merkle_tree_leaves_per_s": round(size / tree_s),
        "merkle_baseline_leaf_hashes_per_s": round(size / baseline_s),
    }


def _generate(path: Path, rows: int) -> float:
    start = time.perf_counter()
    write_csv(synthetic_rows(rows, seed=42, invalid_ratio=0.01), path)
    return time.perf_counter() - start


#: Runs with and without alerts, alternating: the overhead is the ratio of the fastest of
#: each (on a shared machine a single pair of runs differed by up to 15% either way).
ALERT_RUN_PAIRS = 3


def bench_ingest(rows: int, work: Path) -> dict[str, Any]:
    """End to end, file -> anchored, through the real ``ledger`` command in a child process;
    then the same file with the risk alerts off (``LEDGER_ALERTS=0``), in a data dir of its
    own, alternating :data:`ALERT_RUN_PAIRS` times: ``alert_derivation_overhead`` =
    (fastest time with alerts) / (fastest without) - 1. The other ``ingest_*`` figures
    are the first run's (alerts on, the default)."""
    portfolio = work / "portfolio.csv"
    generated_s = _generate(portfolio, rows)
    with_alerts: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []
    for pair in range(ALERT_RUN_PAIRS):
        with_alerts.append(_submit_timed(work / f"ingest-{pair}", portfolio, rows, alerts=True))
        without.append(
            _submit_timed(work / f"ingest-no-alerts-{pair}", portfolio, rows, alerts=False)
        )
        for run in ([with_alerts[-1]] if pair else []) + [without[-1]]:
            shutil.rmtree(run.pop("_data_dir"))  # the first run's store is measured further
    fastest_with = min(run["ingest_seconds"] for run in with_alerts)
    fastest_without = min(run["ingest_seconds"] for run in without)
    cpu_with = min(run["ingest_cpu_us_per_record"] for run in with_alerts)
    cpu_without = min(run["ingest_cpu_us_per_record"] for run in without)
    return {
        **with_alerts[0],
        "ingest_peak_rss_mib": max(run["ingest_peak_rss_mib"] for run in with_alerts),
        "ingest_generate_seconds": round(generated_s, 2),
        "ingest_seconds_runs_with_alerts": [run["ingest_seconds"] for run in with_alerts],
        "ingest_seconds_runs_without_alerts": [run["ingest_seconds"] for run in without],
        "ingest_without_alerts_seconds": fastest_without,
        "ingest_without_alerts_peak_rss_mib": max(run["ingest_peak_rss_mib"] for run in without),
        "alert_derivation_overhead": round(fastest_with / fastest_without - 1, 3),
        "alert_derivation_cpu_overhead": round(cpu_with / cpu_without - 1, 3),
    }


def _submit_timed(
    data_dir: Path, portfolio: Path, rows: int, *, alerts: bool, db_url: str | None = None
) -> dict[str, Any]:
    """``ledger deploy`` then ``ledger submit portfolio``, timed, in ``data_dir`` (and the
    store of ``db_url``: the data dir's SQLite file when None)."""
    ledger = str(Path(sys.executable).with_name("ledger"))
    env = {**os.environ, "LEDGER_DATA_DIR": str(data_dir), "LEDGER_ALERTS": str(int(alerts))}
    env.pop("LEDGER_DB_URL", None)
    if db_url is not None:
        env["LEDGER_DB_URL"] = db_url
    subprocess.run([ledger, "deploy"], env=env, check=True, capture_output=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [ledger, "submit", str(portfolio), "--json"], env=env, stdout=out, stderr=err
        )
        # This run's own usage (the command and the worker processes it waited for),
        # not RUSAGE_CHILDREN's, which keeps the largest of every child so far.
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"ledger submit failed ({child.returncode}): {errors[-2000:]!r}")
    peak_kib = usage.ru_maxrss
    # CPU of the command and its worker processes: on a shared machine this says
    # more about the code than wall time does (the cores bound the rate at
    # cores / cpu per record).
    cpu_s = usage.ru_utime + usage.ru_stime
    report = json.loads(text)
    return {
        "ingest_rows": rows,
        "ingest_accepted": report["accepted"],
        "ingest_seconds": round(elapsed, 2),
        "ingest_records_per_s": round(rows / elapsed),
        "ingest_peak_rss_mib": round(peak_kib / 1024, 1),
        "ingest_cpu_us_per_record": round(cpu_s / rows * 1e6, 1),
        "ingest_batches": len(report["batches"]),
        "_data_dir": data_dir,
    }


def bench_stage_profile(path: Path, data_dir: Path) -> dict[str, Any]:
    """CPU per record of each ingest stage (all threads, polars' included), stages run one
    chunk at a time in this process over the whole file: where an ingest's work goes."""
    from ledger.ingest import Stages
    from ledger.ingest.canonical import jcs
    from ledger.ingest.guard import guard
    from ledger.ingest.read import csv_chunks, read_csv
    from ledger.ingest.validate import validate
    from ledger.privacy import Desensitiser, Keyring, Policy
    from ledger.records.frame import ROW
    from ledger.records.readers import bounded_lines, csv_header, open_records

    policy = Policy.load(None)
    stages = Stages(policy, Desensitiser(policy, Keyring.load_or_create(data_dir)))
    cpu = dict.fromkeys(("read", "validate", "desensitise", "guard", "canonical+leaf"), 0.0)
    rows = 0

    def timed(stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        start = time.process_time()
        out = fn(*args)
        cpu[stage] += time.process_time() - start
        return out

    handle, _ = open_records(path)
    with handle:
        line = next(bounded_lines(handle))[0]
        names = csv_header(line)
        assert names is not None
        for text in csv_chunks(handle):
            chunk = timed("read", read_csv, line, names, text)
            rows += chunk.last_row
            validated, _ = timed("validate", validate, chunk.cells, chunk.rows)
            output = timed("desensitise", stages.desensitiser.frame, validated)
            output, _ = timed("guard", guard, output, validated, {})
            timed("canonical+leaf", jcs, output.drop(ROW), {})
    return {"ingest_stage_cpu_us_per_record": {k: round(v / rows * 1e6, 2) for k, v in cpu.items()}}


def canonicalise_and_hash(records: list[dict[str, Any]]) -> float:
    """Seconds for ``orjson.dumps(record, OPT_SORT_KEYS)`` + ``SHA-256(0x00 || bytes)`` of
    each record, in this process: the baseline every ingest and audit figure is divided by."""
    import orjson

    start = time.perf_counter()
    for record in records:
        hashlib.sha256(b"\x00" + orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).digest()
    return time.perf_counter() - start


def bench_baseline(data_dir: Path, limit: int) -> dict[str, Any]:
    """The baseline on the same desensitised records as the ingest stored, in this process;
    and, for comparison with figures before it was fixed, the same through the project's
    own ``canonical_bytes`` and ``leaf_hash`` (which check every value's type first)."""
    store = Store.open(data_dir)
    with store.session() as s:
        blobs = []
        for batch_id in s.scalars(select(Batch.batch_id)):
            blobs += [x.canonical for x in leaves.batch_leaves(s, batch_id) if x.canonical]
            if len(blobs) >= limit:
                break
        blobs = blobs[:limit]
    store.close()
    records = [json.loads(b) for b in blobs]
    elapsed = canonicalise_and_hash(records)
    start = time.perf_counter()
    for record in records:
        leaf_hash(canonical_bytes(record))
    checked = time.perf_counter() - start
    return {
        "ingest_baseline_records_per_s": round(len(records) / elapsed),
        "ingest_canonical_bytes_records_per_s": round(len(records) / checked),
    }


#: The calibration set: fixed size and seed, so every run measures the same work.
CALIBRATION_RECORDS = 100_000
CALIBRATION_SEED = 20261207


def calibration_records() -> list[dict[str, Any]]:
    """A fixed set of desensitised records: synthetic rows (fixed seed) through the ingest
    stages under fixed keys and salts, so every run and every machine gets the same records."""
    from ledger.ingest import Results, Stages
    from ledger.ingest.pipeline import results as ingest_results
    from ledger.privacy import Desensitiser, Keyring, Policy, PseudonymKey

    policy = Policy.load(None)
    keys = {
        name: PseudonymKey(name, f"{name}-bench", hashlib.sha256(name.encode()).digest())
        for name in sorted(policy.key_names)
    }
    stages = Stages(
        policy,
        Desensitiser(policy, Keyring(keys, source="bench")),
        salts=lambda index, count: hashlib.sha256(index.to_bytes(8, "big")).digest() * count,
    )
    with tempfile.TemporaryDirectory(prefix="credit-anchor-calibration-") as tmp:
        path = Path(tmp) / "rows.csv"
        write_csv(synthetic_rows(CALIBRATION_RECORDS, seed=CALIBRATION_SEED), path)
        done = Results()
        for chunk in ingest_results(path, stages):
            done.extend(chunk)
    return [json.loads(text) for text in done.canonicals]


def bench_calibration() -> dict[str, Any]:
    """``orjson.dumps(record, OPT_SORT_KEYS)`` + ``SHA-256(0x00 || bytes)`` over the fixed set:
    the baseline every speed figure of a run is divided by."""
    records = calibration_records()
    elapsed = canonicalise_and_hash(records)
    return {
        "calibration_records": len(records),
        "calibration_records_per_s": round(len(records) / elapsed),
    }


def bench_batch_gas(data_dir: Path) -> dict[str, Any]:
    """Anchor gas per record for batches of 1k, 10k and 100k leaves."""
    deployment = Deployment.load(data_dir / "deployment.json")
    result = {}
    with Chain.embedded(data_dir, holder="bench") as chain:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        for size, key in ((1_000, "1k"), (10_000, "10k"), (100_000, "100k")):
            tree = MerkleTree([leaf_hash(os.urandom(16)) for _ in range(size)])
            event = registry.anchor(
                os.urandom(32), tree.root, size, BatchKind.CREDIT_DATA, os.urandom(32)
            )
            assert event.gas_used is not None
            result[f"gas_per_record_{key}"] = round(event.gas_used / size, 3)
        naive = 200
        start = time.perf_counter()
        for _ in range(naive):
            registry.anchor(
                os.urandom(32), os.urandom(32), 1, BatchKind.CREDIT_DATA, os.urandom(32)
            )
        result["naive_records_per_s"] = round(naive / (time.perf_counter() - start), 1)
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _loadgen(
    url: str, body: Path, seconds: float, headers: list[str], connections: int = 50
) -> dict[str, Any]:
    script = Path(__file__).with_name("loadgen.py")
    args = [sys.executable, str(script), url, "--connections", str(connections)]
    args += ["--seconds", str(seconds)]
    args += ["--body", str(body)] + [f"--header={h}" for h in headers]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


#: Load runs per server, alternating: the machine's other load changes by the
#: second, so the two servers are measured in turns and each figure is the median.
ROUNDS = 5


def _alternate(*sides: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Run the ``sides`` in turns, ROUNDS times; each key's median per side."""
    runs: list[list[dict[str, Any]]] = [[] for _ in sides]
    for _ in range(ROUNDS):
        for side, done in zip(sides, runs, strict=True):
            done.append(side())
    return tuple(_medians(done) for done in runs)


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


@contextmanager
def _servers(ledger: str, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``ledger serve`` and the trivial app, served the same way; their base URLs."""
    port, trivial_port = _free_port(), _free_port()
    server = subprocess.Popen([ledger, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    trivial = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_trivial:app", "--app-dir",
         str(Path(__file__).parent), "--port", str(trivial_port), "--no-access-log",
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base, tbase = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{trivial_port}"
        _wait_ready(base + "/healthz", server)
        _wait_ready(tbase + "/docs", trivial)
        yield base, tbase
    finally:
        for proc in (server, trivial):
            proc.terminate()
            proc.wait(timeout=30)


def _load(ledger: str, env: dict[str, str], rows: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """``ledger submit rows`` into the deployed store of ``env`` and an auditor's key: the
    key's header, and the first batch's stored records (with their salts)."""
    subprocess.run([ledger, "submit", str(rows)], env=env, check=True, capture_output=True)
    added = subprocess.run(
        [ledger, "partner", "add", "bench", "--role", "auditor", "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    store = Store.open(Path(env["LEDGER_DATA_DIR"]), env.get("LEDGER_DB_URL"))
    with store.session() as s:
        batch_id = s.scalars(select(Batch.batch_id)).first()
        assert batch_id is not None
        records = [json.loads(x.canonical or b"") for x in leaves.batch_leaves(s, batch_id)]
    store.close()
    return [f"Authorization: Bearer {json.loads(added.stdout)['key']}"], records[:10_000]


#: ``ledger serve`` workers of the PostgreSQL figure (issue 20: one per core here).
PG_WORKERS = 2


def bench_api(work: Path, quick: bool, *, pg: bool = False) -> dict[str, Any]:
    """verify_rps / p99 against trivial_rps, and 10000-record verify throughput.

    ``pg``: also ``pg_verify_rps_2workers``: the same rows submitted to a PostgreSQL
    store on anvil, served by ``ledger serve --workers 2``, driven with the same request
    (one record) in the same rounds (scripts/bench_failover.py starts the three)."""
    data_dir = work / "api"
    ledger = str(Path(sys.executable).with_name("ledger"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATA_DIR"] = str(data_dir)
    subprocess.run([ledger, "deploy"], env=env, check=True, capture_output=True)
    write_csv(synthetic_rows(10_000, seed=9), work / "api.csv")
    auth, records = _load(ledger, env, work / "api.csv")
    (work / "one.json").write_text(json.dumps({"records": records[:1]}))
    (work / "many.json").write_text(json.dumps({"records": records}))
    (work / "noop.json").write_text("{}")
    seconds = 3.0 if quick else 10.0
    with _servers(ledger, env) as (base, tbase), ExitStack() as stack:
        sides = [
            lambda: _loadgen(base + "/v1/verify", work / "one.json", seconds / ROUNDS, auth),
            lambda: _loadgen(tbase + "/noop", work / "noop.json", seconds / ROUNDS, []),
        ]
        if pg:
            sides.append(stack.enter_context(_pg_side(work / "pg", ledger, seconds / ROUNDS)))
        verify, noop, *on_pg = _alternate(*sides)
        batch = _batch_verify(base + "/v1/verify", work / "many.json", auth, len(records), seconds)
    # The ingest baseline (canonicalise + hash in this process) on these same records, so
    # the batch figure has a baseline of its own run when the ingest section is skipped.
    baseline = bench_baseline(data_dir, len(records))["ingest_baseline_records_per_s"]
    return {
        "verify_rps": verify["rps"],
        "verify_p99_ms": verify["p99_ms"],
        # The same with each connection's first answer (see scripts/loadgen.py).
        "verify_p99_all_ms": verify["p99_all_ms"],
        "verify_p50_ms": verify["p50_ms"],
        "verify_errors": verify["errors"],
        "trivial_rps": noop["rps"],
        # The same run's latency floor: on a shared machine most of a p99 is scheduling.
        "trivial_p99_ms": noop["p99_ms"],
        "trivial_p99_all_ms": noop["p99_all_ms"],
        "verify_to_trivial_ratio": round(verify["rps"] / noop["rps"], 3),
        **batch,
        "batch_verify_baseline_records_per_s": baseline,
        "batch_verify_to_baseline_ratio": round(batch["batch_verify_records_per_s"] / baseline, 3),
        **(_pg_figures(on_pg[0], verify) if on_pg else {}),
    }


@contextmanager
def _pg_side(work: Path, ledger: str, seconds: float) -> Iterator[Callable[[], dict[str, Any]]]:
    """The api section's rows in a PostgreSQL store on anvil, ``ledger serve --workers 2``
    on it: one load run of its verify (as :func:`bench_api` drives SQLite's) per call."""
    from bench_failover import deployed, serve

    work.mkdir()
    write_csv(synthetic_rows(10_000, seed=9), work / "api.csv")
    with deployed(work, _free_port) as env:
        auth, records = _load(ledger, env, work / "api.csv")
        (work / "one.json").write_text(json.dumps({"records": records[:1]}))
        port = _free_port()
        with serve(env, port, workers=PG_WORKERS) as server:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url + "/healthz", server)
            _wait_started(work / f"serve-{port}.log", PG_WORKERS)
            yield lambda: _loadgen(url + "/v1/verify", work / "one.json", seconds, auth)


def _wait_started(log: Path, workers: int) -> None:
    """Until every worker has logged its startup: /healthz answers once the first has."""
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count("Application startup complete") < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {workers} workers started (see {log})")
        time.sleep(0.2)


def _pg_figures(pg: dict[str, Any], sqlite: dict[str, Any]) -> dict[str, Any]:
    return {
        f"pg_verify_rps_{PG_WORKERS}workers": pg["rps"],
        "pg_verify_p99_ms": pg["p99_ms"],
        "pg_verify_p50_ms": pg["p50_ms"],
        "pg_verify_errors": pg["errors"],
        # Issue 20: at least 1.3 on these two cores.
        "pg_verify_ratio": round(pg["rps"] / sqlite["rps"], 3),
    }


def bench_consent(work: Path, quick: bool) -> dict[str, Any]:
    """consent_check_rps / p99 for POST /v1/consents/check, beside trivial_rps (same run)."""
    from datetime import UTC, datetime, timedelta

    from ledger.records.identifiers import gb11643_check_digit

    data_dir = work / "consent"
    ledger = str(Path(sys.executable).with_name("ledger"))
    env = {**os.environ, "LEDGER_DATA_DIR": str(data_dir)}
    subprocess.run([ledger, "deploy"], env=env, check=True, capture_output=True)
    id_number = "11010119900307001" + gb11643_check_digit("11010119900307001")
    now = datetime.now(UTC).replace(microsecond=0)
    grant = {
        "subject": {"id_type": "10", "id_number": id_number},
        "controller": {"name": "Bench Lending", "institution": "LENDER-1"},
        "notice": {"version": "1", "hash": "0x" + "11" * 32},
        "purposes": ["LOAN_APPROVAL"],
        "data_categories": ["identity", "loan_account"],
        "recipients": ["BANK-A"],
        "separate_consent": True,
        "written_form": True,
        "evidence": {"method": "e-signature", "document_hash": "0x" + "22" * 32},
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
    }
    (work / "grant.json").write_text(json.dumps(grant))
    subprocess.run(
        [ledger, "consent", "grant", str(work / "grant.json")], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    added = subprocess.run(
        [ledger, "partner", "add", "bench-bank", "--role", "partner", "--institution", "BANK-A",
         "--json"], env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    auth = [f"Authorization: Bearer {json.loads(added.stdout)['key']}"]
    body = {"subject": grant["subject"], "purpose": "LOAN_APPROVAL"}
    (work / "check.json").write_text(json.dumps(body))
    (work / "noop.json").write_text("{}")
    seconds = 3.0 if quick else 10.0
    with _servers(ledger, env) as (base, tbase):
        check, noop = _alternate(
            lambda: _loadgen(
                base + "/v1/consents/check", work / "check.json", seconds / ROUNDS, auth
            ),
            lambda: _loadgen(tbase + "/noop", work / "noop.json", seconds / ROUNDS, []),
        )
    return {
        "consent_check_rps": check["rps"],
        "consent_check_p99_ms": check["p99_ms"],
        "consent_check_errors": check["errors"],
        "consent_trivial_rps": noop["rps"],
        "consent_check_to_trivial_ratio": round(check["rps"] / noop["rps"], 3),
    }


#: Connections for the 10000-record figure: as a bank's system keeps one request in
#: flight while it reads the last answer, and the server then has work at all times.
BATCH_CONNECTIONS = 2


def _batch_verify(
    url: str, body: Path, headers: list[str], items: int, seconds: float
) -> dict[str, Any]:
    """10000-record ``POST /v1/verify``: the server's throughput, and a client's.

    ``batch_verify_records_per_s`` is driven as ``verify_rps`` is (the load generator,
    which reads each whole answer but does not parse it), over BATCH_CONNECTIONS.
    ``batch_verify_parsed_records_per_s``: one request at a time, each 27 MB answer
    parsed with orjson and checked, as a single-threaded bank client would see it.
    """
    import urllib.request

    import orjson

    data = body.read_bytes()
    hdrs = {"Content-Type": "application/json"} | dict(h.split(": ", 1) for h in headers)
    rounds = 3
    start = time.perf_counter()
    for _ in range(rounds):
        req = urllib.request.Request(url, data, hdrs)  # noqa: S310 - loopback
        with urllib.request.urlopen(req, timeout=600) as resp:  # noqa: S310 - loopback
            answer = orjson.loads(resp.read())
        assert answer["counts"]["anchored"] == items, answer["counts"]
    parsed = round(rounds * items / (time.perf_counter() - start))
    load = _loadgen(url, body, seconds, headers, connections=BATCH_CONNECTIONS)
    assert load["errors"] == 0, load
    return {
        "batch_verify_records_per_s": round(load["requests"] * items / load["seconds"]),
        "batch_verify_p50_ms": load["p50_ms"],
        "batch_verify_parsed_records_per_s": parsed,
    }


#: Sections ``--only`` may pick; a full run does them all, in this order.
#: ``pgapi`` is the api section with its PostgreSQL figure (one run: the same rounds).
SECTIONS = (
    "chain", "ingest", "pg", "api", "pgapi", "consent", "audit", "delivery", "ui", "failover",
)  # fmt: skip


def run(
    quick: bool,
    only: frozenset[str] = frozenset(SECTIONS),
    *,
    audit_1m: bool = False,
    rows: int | None = None,
) -> dict[str, Any]:
    """The sections of ``only``; ``rows``: the size of the ingest and pg sections' file
    (default 1M, 100k with ``quick``)."""
    rows = rows or (100_000 if quick else 1_000_000)
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "chain": "embedded eth-tester (py-evm), durable",
    }
    results.update(bench_calibration())
    if "chain" in only:
        with tempfile.TemporaryDirectory(prefix="credit-anchor-bench-") as tmp:
            data_dir = Path(tmp)
            with Chain.embedded(data_dir, holder="bench") as chain:
                gas = bench_deploy_and_anchor(chain, data_dir)
                registry = gas.pop("registry")
                results.update(gas)
                results.update(bench_verify_inclusion(chain, registry))
        results.update(bench_tree_speed(quick))
    if "ingest" in only:
        with tempfile.TemporaryDirectory(prefix="credit-anchor-ingest-") as tmp:
            ingest = bench_ingest(rows, Path(tmp))
            data_dir = ingest.pop("_data_dir")
            results.update(ingest)
            results.update(bench_baseline(data_dir, 100_000))
            results.update(bench_stage_profile(Path(tmp) / "portfolio.csv", data_dir))
            results.update(bench_batch_gas(data_dir))
    if "pg" in only:
        from bench_pg import bench_pg

        with tempfile.TemporaryDirectory(prefix="credit-anchor-pg-") as tmp:
            portfolio = Path(tmp) / "portfolio.csv"
            _generate(portfolio, rows)
            pg = bench_pg(rows, Path(tmp), portfolio, _submit_timed)
        # The SQLite figure of this same file, when the ingest section did not give one.
        results.setdefault("ingest_records_per_s", pg["pg_sqlite_ingest_records_per_s"])
        results.update(pg)
    if "api" in only or "pgapi" in only:
        with tempfile.TemporaryDirectory(prefix="credit-anchor-api-") as tmp:
            results.update(bench_api(Path(tmp), quick, pg="pgapi" in only))
    if "consent" in only:
        with tempfile.TemporaryDirectory(prefix="credit-anchor-consent-") as tmp:
            results.update(bench_consent(Path(tmp), quick))
    if "audit" in only:
        from bench_alert_audit import bench_alert_audit
        from bench_audit import bench_audit

        results.update(bench_audit(quick, full=audit_1m))
        results.update(bench_alert_audit(quick))
    if "delivery" in only:
        from bench_delivery import bench_delivery

        results.update(bench_delivery(quick))
    if "ui" in only:
        from bench_ui import bench_ui

        results.update(bench_ui(quick, _free_port, _wait_ready))
    if "failover" in only:
        from bench_failover import bench_failover

        results.update(bench_failover(quick, _free_port))
    return _with_ratios(results)


def _with_ratios(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the issues hold as ratios, beside the figures."""
    pairs = {
        "ingest_to_baseline_ratio": ("ingest_records_per_s", "ingest_baseline_records_per_s"),
        "ingest_to_canonical_bytes_ratio": (
            "ingest_records_per_s",
            "ingest_canonical_bytes_records_per_s",
        ),
        "ingest_to_calibration_ratio": ("ingest_records_per_s", "calibration_records_per_s"),
        "verify_p99_to_trivial_p99_ratio": ("verify_p99_ms", "trivial_p99_ms"),
        "audit_to_calibration_ratio": ("audit_records_per_s", "calibration_records_per_s"),
        "alerts_to_plain_posts_ratio": ("alerts_per_s", "plain_posts_per_s"),
    }
    for key, (top, bottom) in pairs.items():
        if results.get(top) and results.get(bottom):
            results[key] = round(results[top] / results[bottom], 3)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all of them",
    )
    parser.add_argument(
        "--audit-1m",
        action="store_true",
        help="time the whole audit at 1000 batches / 1M leaves / 10k consents "
        "(minutes and ~1.3 GB of temporary export)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        help="rows of the ingest and pg sections' file (default 1M; 100k with --quick)",
    )
    args = parser.parse_args(argv)
    only = frozenset(args.only or SECTIONS)
    results = run(args.quick, only, audit_1m=args.audit_1m, rows=args.rows)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    json.dump(results, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
