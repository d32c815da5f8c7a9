"""The ``audit`` section of ``scripts/bench.py``: replay and records-check speed on anvil.

``audit_events_per_s`` (a chain-only audit: replay, logHead/anchorCount check)
is quoted beside ``raw_getlogs_events_per_s`` (plain eth_getLogs over the same
blocks, same ranges, no decoding) measured in the same run on the same node.
``audit_records_per_s`` times the exported-records check (parse, hash, audit path,
anchor) on one anchored batch. A full 1M-leaf audit (``audit_seconds_1m``) needs
a 1M-record ingest first and is not part of this section.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.audit import AuditReport, AuditTarget, audit
from ledger.audit.records import check_records
from ledger.audit.replay import DEFAULT_RANGE
from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient, BatchKind, ConsentRegistryClient
from ledger.proofs import AnchorAttestation, MerkleTree, canonical_bytes, leaf_hash, make_bundle

REPO = Path(__file__).resolve().parent.parent
CONSENTS_PER_TX = 200


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())["result"]


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    binary = sorted(REPO.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))[0]
    proc = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            _rpc(url, "eth_chainId", [])
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("anvil did not start")


def _populate(chain: Chain, deployment: Deployment, anchors: int, consents: int) -> None:
    registry = AnchorRegistryClient.from_deployment(chain, deployment)
    consent_registry = ConsentRegistryClient.from_deployment(chain, deployment)
    for _ in range(anchors):
        registry.anchor(os.urandom(32), os.urandom(32), 1000, BatchKind.CREDIT_DATA, os.urandom(32))
    for start in range(0, consents, CONSENTS_PER_TX):
        count = min(CONSENTS_PER_TX, consents - start)
        consent_registry.record_many(
            [(os.urandom(32), os.urandom(32), 1_700_000_000, 0) for _ in range(count)]
        )


def _raw_getlogs(url: str, deployment: Deployment, last: int) -> tuple[int, float]:
    addresses = [deployment.anchor_registry, deployment.consent_registry]
    start, events = time.perf_counter(), 0
    for first in range(deployment.deployment_block, last + 1, DEFAULT_RANGE):
        span = {"fromBlock": hex(first), "toBlock": hex(min(first + DEFAULT_RANGE - 1, last))}
        events += len(_rpc(url, "eth_getLogs", [{**span, "address": addresses}]))
    return events, time.perf_counter() - start


def _records_file(chain: Chain, deployment: Deployment, path: Path, size: int) -> None:
    """One anchored batch of ``size`` synthetic records, exported as bundles."""
    records = [
        {"report_id": f"R-{i}", "amount": str(i), "salt": os.urandom(32).hex()} for i in range(size)
    ]
    tree = MerkleTree([leaf_hash(canonical_bytes(r)) for r in records])
    batch_id = os.urandom(32)
    event = AnchorRegistryClient.from_deployment(chain, deployment).anchor(
        batch_id, tree.root, size, BatchKind.CREDIT_DATA, os.urandom(32)
    )
    anchor = AnchorAttestation(
        chain_id=chain.chain_id,
        registry=bytes.fromhex(deployment.anchor_registry[2:]),
        tx_hash=bytes.fromhex(event.tx_hash[2:]),
        block_number=event.block_number,
        block_timestamp=datetime.now(UTC).replace(microsecond=0),
    )
    with path.open("w", encoding="utf-8") as out:
        for index, record in enumerate(records):
            bundle = make_bundle(record, index, tree, batch_id, anchor)
            out.write(json.dumps(bundle.to_json()) + "\n")


def bench_audit(quick: bool) -> dict[str, Any]:
    anchors, consents, records = (200, 2_000, 2_000) if quick else (1_000, 10_000, 20_000)
    proc, url = _start_anvil()
    try:
        with tempfile.TemporaryDirectory(prefix="credit-anchor-audit-") as tmp:
            data_dir = Path(tmp)
            account = Account.create()
            _rpc(url, "anvil_setBalance", [account.address, hex(10**24)])
            chain = Chain.json_rpc(url, account)
            chain.poll_interval = 0.005  # anvil mines at once: do not idle between polls
            deployment, _ = deploy(chain, data_dir)
            _populate(chain, deployment, anchors, consents)
            _records_file(chain, deployment, data_dir / "export.jsonl", records)
            target = AuditTarget.of(deployment)
            started = time.perf_counter()
            report, state = audit(chain, target)
            replay_s = time.perf_counter() - started
            last = state.next_block - 1
            raw_events, raw_s = _raw_getlogs(url, deployment, last)
            started = time.perf_counter()
            check_records(data_dir / "export.jsonl", state, None, AuditReport())
            records_s = time.perf_counter() - started
            chain.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert isinstance(report, AuditReport) and report.clean, report.to_json()["findings"]
    events = len(state.anchors) + len(state.consents)
    return {
        "audit_anchors": len(state.anchors),
        "audit_consents": len(state.consents),
        "audit_events_per_s": round(events / replay_s),
        "raw_getlogs_events_per_s": round(raw_events / raw_s),
        "audit_records_per_s": round(records / records_s),
    }
