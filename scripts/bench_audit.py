"""The ``audit`` section of ``scripts/bench.py``: replay and records-check speed on anvil.

``audit_events_per_s`` (a chain-only audit: replay, logHead/anchorCount check)
is quoted beside ``raw_getlogs_events_per_s`` (plain eth_getLogs over the same
blocks, same ranges, no decoding) measured in the same run on the same node.
``audit_records_per_s`` times the exported-records check (parse, hash, audit path,
anchor) on one anchored batch. ``audit_seconds_100k`` (``_10k`` with --quick) is a
whole audit — replay, store cross-check, consent status calls, records check — of
a ledger of 1000-record batches, its store and its export; the issue's
``audit_seconds_1m`` (1000 batches, 1M leaves, 10k consents; ``--audit-1m``) is
the same at ten times the size.

The records are real: synthetic portfolio rows put through the submission's own
validation, desensitisation and RFC 8785 form (~1 KB each, ~2 KB as a bundle
line), submitted and anchored as the platform does, exported by ``ledger
export``'s function. Only the audit is timed.
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

from ledger.audit import AuditReport, AuditTarget, audit, export_records
from ledger.audit.defaults import DEFAULT_RANGE
from ledger.audit.records import check_records
from ledger.chain import Chain, Deployment, deploy
from ledger.chain.registry import AnchorRegistryClient, BatchKind, ConsentRegistryClient
from ledger.chain.signer import load_account
from ledger.config import Settings
from ledger.consent.receipt import commitment
from ledger.ingest import Results, Stages
from ledger.ingest.pipeline import results as ingest_results
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.proofs import AnchorAttestation, MerkleTree, canonical_bytes, leaf_hash, make_bundle
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.store import Consent, Store
from ledger.wiring import Ledger

REPO = Path(__file__).resolve().parent.parent
CONSENTS_PER_TX = 200
#: Records per batch in the whole-audit ledger (the issue: 1000 batches, 1M leaves).
BATCH = 1000


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


def _desensitised(data_dir: Path, size: int) -> list[dict[str, Any]]:
    """``size`` portfolio rows through the submission's own stages: stored records."""
    policy = Policy.load(None)
    keys = Keyring.load_or_create(data_dir, sorted(policy.key_names))
    stages = Stages(policy, Desensitiser(policy, keys))
    csv_file = data_dir / "rows.csv"
    write_csv(synthetic_rows(size, seed=2025), csv_file)
    results = Results()
    for chunk in ingest_results(csv_file, stages):
        results.extend(chunk)
    assert len(results) == size, results.refused[:3]
    return [json.loads(c) for c in results.canonicals]


def _records_file(chain: Chain, deployment: Deployment, path: Path, size: int) -> None:
    """One anchored batch of ``size`` desensitised records, exported as bundles."""
    records = _desensitised(path.parent, size)
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


def _ledger(url: str, data_dir: Path, export: Path, batches: int) -> None:
    """``batches`` batches of ``BATCH`` records submitted as the platform does, then exported.

    Rows of the synthetic portfolio go through the real submission (validation,
    desensitisation, leak guard, salts, RFC 8785, batching, anchoring on the node)
    and ``ledger export``'s own function writes their bundles: each record is a
    ~1 KB desensitised ``credit-account-report``, as in a real store and export.
    """
    portfolio = data_dir / "portfolio.csv"
    write_csv(synthetic_rows(batches * BATCH, seed=2026), portfolio)
    settings = Settings(data_dir=data_dir, rpc_url=url, db_url=None, batch_size=BATCH)
    with Ledger.open(settings) as ledger:
        ledger.chain.poll_interval = 0.005  # anvil mines at once: do not idle between polls
        submitted = ledger.submitter().submit(portfolio)
        assert submitted.accepted == batches * BATCH, submitted.rejected
        with export.open("w", encoding="utf-8") as out:
            written = export_records(ledger.store, out)
    assert written == batches * BATCH
    portfolio.unlink()


def _consents(chain: Chain, deployment: Deployment, store: Store, count: int) -> None:
    registry = ConsentRegistryClient.from_deployment(chain, deployment)
    for start in range(0, count, CONSENTS_PER_TX):
        rows = []
        for _ in range(min(CONSENTS_PER_TX, count - start)):
            consent_id = "0x" + os.urandom(32).hex()  # a receipt names its own id
            receipt = canonical_bytes(
                {"format": "bench", "consent_id": consent_id, "salt": "0x" + os.urandom(32).hex()}
            )
            rows.append(
                Consent(
                    consent_id=consent_id, receipt=receipt,
                    commitment=commitment(receipt), valid_from=1_700_000_000, valid_until=0,
                    created_at="2026-01-01T00:00:00Z", status="recorded",
                )
            )  # fmt: skip
        registry.record_many(
            [(bytes.fromhex(c.consent_id[2:]), bytes.fromhex(c.commitment[2:]), c.valid_from, 0)
             for c in rows]
        )  # fmt: skip
        with store.session() as s, s.begin():
            s.add_all(rows)


def bench_whole_audit(url: str, batches: int, consents: int) -> float:
    """Seconds for one whole audit of a fresh ledger on the node at ``url``.

    Only the audit is timed: submitting, exporting and recording consents are not.
    """
    with tempfile.TemporaryDirectory(prefix="credit-anchor-audit-whole-") as tmp:
        data_dir = Path(tmp)
        account = load_account(data_dir)
        _rpc(url, "anvil_setBalance", [account.address, hex(10**24)])
        with Chain.json_rpc(url, account) as chain:
            deployment, _ = deploy(chain, data_dir)
        _ledger(url, data_dir, data_dir / "export.jsonl", batches)
        with Chain.json_rpc(url, account) as chain:
            chain.poll_interval = 0.005
            store = Store.open(data_dir)
            _consents(chain, deployment, store, consents)
            started = time.perf_counter()
            report, _ = audit(
                chain, AuditTarget.of(deployment), store=store, records=data_dir / "export.jsonl"
            )
            elapsed = time.perf_counter() - started
            store.close()
    assert report.clean, report.to_json()["findings"][:5]
    assert report.checked["records"] == report.checked["store_leaves"] == batches * BATCH
    return elapsed


def bench_audit(quick: bool, full: bool = False) -> dict[str, Any]:
    """The audit figures; ``full`` times the issue's whole 1000-batch / 1M-leaf case."""
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
        batches, consents_whole = (10, 1_000) if quick else (100, 10_000)
        if full:
            batches = 1_000
        whole_s = bench_whole_audit(url, batches, consents_whole)
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
        ("audit_seconds_1m" if batches == 1_000 else f"audit_seconds_{batches}k"): round(
            whole_s, 2
        ),
        "audit_whole_consents": consents_whole,
    }
