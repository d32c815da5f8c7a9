"""CreditAnchor benchmark: gas and speed figures as JSON (``make bench``).

A benchmark, not a test: it asserts nothing. Gas figures are exact and
repeatable; timings are quoted beside a baseline measured in the same run,
because this machine is shared and noisy.

Usage: python scripts/bench.py --json FILE [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient, BatchKind
from ledger.proofs import MerkleTree, canonical_bytes, leaf_hash
from ledger.records import synthetic_rows, write_csv
from ledger.store import Leaf, Store

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


def bench_ingest(rows: int, work: Path) -> dict[str, Any]:
    """End to end, file -> anchored, through the real ``ledger`` command in a child process."""
    data_dir, portfolio = work / "ingest", work / "portfolio.csv"
    generated_s = _generate(portfolio, rows)
    ledger = str(Path(sys.executable).with_name("ledger"))
    env = {**os.environ, "LEDGER_DATA_DIR": str(data_dir)}
    subprocess.run([ledger, "deploy"], env=env, check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [ledger, "submit", str(portfolio), "--json"], env=env, check=True, capture_output=True
    )
    elapsed = time.perf_counter() - start
    peak_kib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    report = json.loads(done.stdout)
    return {
        "ingest_rows": rows,
        "ingest_accepted": report["accepted"],
        "ingest_seconds": round(elapsed, 2),
        "ingest_records_per_s": round(rows / elapsed),
        "ingest_peak_rss_mib": round(peak_kib / 1024, 1),
        "ingest_batches": len(report["batches"]),
        "ingest_generate_seconds": round(generated_s, 2),
        "_data_dir": data_dir,
    }


def bench_baseline(data_dir: Path, limit: int) -> dict[str, Any]:
    """Canonicalise + hash alone, on the same desensitised records, in this process."""
    store = Store.open(data_dir)
    with store.session() as s:
        blobs = list(s.scalars(select(Leaf.canonical).limit(limit)))
    store.close()
    records = [json.loads(b) for b in blobs]
    start = time.perf_counter()
    for record in records:
        leaf_hash(canonical_bytes(record))
    elapsed = time.perf_counter() - start
    return {"ingest_baseline_records_per_s": round(len(records) / elapsed)}


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


def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "chain": "embedded eth-tester (py-evm), durable",
    }
    with tempfile.TemporaryDirectory(prefix="credit-anchor-bench-") as tmp:
        data_dir = Path(tmp)
        with Chain.embedded(data_dir, holder="bench") as chain:
            gas = bench_deploy_and_anchor(chain, data_dir)
            registry = gas.pop("registry")
            results.update(gas)
            results.update(bench_verify_inclusion(chain, registry))
    results.update(bench_tree_speed(quick))
    with tempfile.TemporaryDirectory(prefix="credit-anchor-ingest-") as tmp:
        ingest = bench_ingest(100_000 if quick else 1_000_000, Path(tmp))
        data_dir = ingest.pop("_data_dir")
        results.update(ingest)
        results.update(bench_baseline(data_dir, 100_000))
        results.update(bench_batch_gas(data_dir))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    args = parser.parse_args(argv)
    results = run(args.quick)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    json.dump(results, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
