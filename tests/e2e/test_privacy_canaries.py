"""Privacy invariants 1-3 (DESIGN.md) with canary values, never assumed.

Distinctive but valid personal values (names, resident ID numbers with a correct
GB 11643 check character, mobiles, account ids) go through the real ``ledger``
commands: submit (accepted and rejected rows), bundle, consent, in a data dir that
starts as what ``ledger deploy`` leaves (a copy: deploy sees no canary). Then every
place they could surface is read back as bytes and searched for them:

(a) every file of the data dir (store, embedded chain, keys, manifest, ABI files);
(b) the chain itself: every ``BatchAnchored`` event, every raw log, every
    transaction input of every block;
(c) the proof bundles;
(d) everything the commands printed, and the rejection files they wrote.

The canaries and their search (every encoding, digest and integer form) are in
:mod:`tests._canaries`, shared with other scans. Invariant 3: two submissions about
the same borrowers share no value on chain but the submitter's address and small
numbers.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ledger.chain import Chain, Deployment
from ledger.chain.registry import AnchorRegistryClient
from ledger.records import RecordRejected, validate_record
from ledger.records.identifiers import resident_id_problem
from ledger.records.readers import write_csv
from tests._canaries import (
    BAD,
    GOOD,
    PERSONAL,
    ROWS_PER_FILE,
    bad_rows,
    canary_id,
    files_under,
    leaks_in,
    leaks_in_files,
    needles,
    rows_for,
)
from tests._storebytes import readable_bytes
from tests.conftest import COMMAND_TIMEOUT, copy_deployment, ledger_cli

#: Harmless if nothing reads it: if anything logs, it logs everything.
ENV = {"LEDGER_LOG_LEVEL": "DEBUG", "COLUMNS": "400", "LEDGER_INQUIRY_SEAL_SIZE": "1"}


# -- input files ----------------------------------------------------------------------


def problems(row: Mapping[str, object]) -> set[str]:
    try:
        validate_record(row)
    except RecordRejected as exc:
        return {p.field for p in exc.problems}
    return set()


def headerless_csv(path: Path) -> None:
    """A CSV exported without its header row: the first borrower's row stands in for it."""
    columns = ["report_id", "reporter_org_code", "period", *PERSONAL, "principal"]
    rows = rows_for("CANARY-H", seed=64)[:3]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for row in rows:
            writer.writerow([row[name] for name in columns])


# -- running the real CLI --------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(ENV)
    return env


@dataclass
class Flow:
    base: Path
    data_dir: Path
    rejected_dir: Path  # only refused rows were submitted here
    headerless_dir: Path
    outputs: dict[str, str] = field(default_factory=dict)  # command -> stdout + stderr
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundles: dict[str, Path] = field(default_factory=dict)
    bundle_stdout: str = ""
    written: list[Path] = field(default_factory=list)  # rejection files
    inputs: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def run_all(self, commands: Mapping[str, Sequence[str]]) -> None:
        """Run commands side by side (never two on one data dir's chain); all must succeed."""
        procs = {
            label: subprocess.Popen(
                [ledger_cli(), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            )
            for label, args in commands.items()
        }
        for label, proc in procs.items():
            out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
            self.outputs[label] = out + err
            if "headerless" in label:  # refused as a whole: one error line, exit 2
                assert proc.returncode == 2, f"{label}: exit {proc.returncode}\n{err}"
                assert [ln for ln in err.splitlines() if ln.startswith("error:")] != [], err
                assert sum(ln.startswith("error:") for ln in err.splitlines()) == 1, err
                continue
            assert proc.returncode == 0, f"{label}: exit {proc.returncode}\n{err}"
            if "--json" in commands[label] and commands[label][0] == "submit":
                self.reports[label] = json.loads(out)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Flow:
    base = tmp_path_factory.mktemp("canaries")
    flow = Flow(base, base / "data", base / "rejected-data", base / "headerless-data")
    data = str(flow.data_dir)
    flow.inputs = {
        "A": rows_for("CANARY-A", seed=61) + bad_rows("CANARY-A", seed=63),
        "R": bad_rows("CANARY-R", seed=65),
        "B": rows_for("CANARY-B", seed=62),
    }
    paths = {name: base / f"{name}.csv" for name in flow.inputs}
    for name, rows in flow.inputs.items():
        write_csv(rows, paths[name])
    headerless = base / "headerless.csv"
    headerless_csv(headerless)
    rejections = {name: base / f"rejections-{name}.csv" for name in ("A", "R")}
    flow.written = list(rejections.values())

    copy_deployment(deployed_template, flow.data_dir)
    shutil.copytree(flow.data_dir, flow.rejected_dir)
    shutil.copytree(flow.data_dir, flow.headerless_dir)
    flow.run_all(
        {
            "submit A --json": ["submit", str(paths["A"]), "--data-dir", data, "--json",
                                "--rejections", str(rejections["A"])],
            "submit R (table)": ["submit", str(paths["R"]), "--data-dir", str(flow.rejected_dir),
                                 "--rejections", str(rejections["R"])],
            "submit headerless --json": ["submit", str(headerless), "--json",
                                         "--data-dir", str(flow.headerless_dir)],
        }
    )  # fmt: skip
    flow.run_all({"submit B --json": ["submit", str(paths["B"]), "--data-dir", data, "--json"]})
    for name in ("CANARY-A-0", "CANARY-B-0", "CANARY-B-3"):
        flow.bundles[name] = base / f"{name}.bundle.json"
    flow.run_all(
        {
            f"bundle {name}": ["bundle", name, "-o", str(path), "--data-dir", data]
            for name, path in flow.bundles.items()
        }
        | {"bundle to stdout": ["bundle", "CANARY-B-5", "--data-dir", data]}
    )
    flow.bundle_stdout = flow.outputs["bundle to stdout"]
    # consents: a receipt, a check (logged, sealed and anchored as an inquiry batch)
    consent = base / "consent.json"
    consent.write_text(json.dumps(consent_grant(canary_id(0))))
    flow.run_all({"consent grant": ["consent", "grant", str(consent), "--data-dir", data]})
    check = ["consent", "check", "--institution", "BANK-A", "--purpose", "LOAN_APPROVAL"]
    flow.run_all({"consent check": [*check, "--id-number", canary_id(0), "--data-dir", data]})
    return flow


def consent_grant(id_number: str) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "subject": {"id_type": "10", "id_number": id_number},
        "controller": {"name": "Canary Lending", "institution": "LENDER-1"},
        "notice": {"version": "1", "hash": "0x" + "11" * 32},
        "purposes": ["LOAN_APPROVAL"],
        "data_categories": ["identity", "loan_account"],
        "recipients": ["BANK-A"],
        "separate_consent": True,
        "written_form": True,
        "evidence": {"method": "e-signature", "document_hash": "0x" + "22" * 32},
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
    }


# -- the canaries are real, and the search finds them -----------------------------------


def test_canaries_are_valid_values_and_the_search_finds_them(flow: Flow) -> None:
    for b in GOOD:
        assert resident_id_problem(b.id_number) is None, b.id_number
    assert resident_id_problem(BAD["wrong ID check character"].id_number) is not None
    for name, rows in flow.inputs.items():
        blob = (flow.base / f"{name}.csv").read_bytes()
        for row in rows:
            for kind in PERSONAL:
                assert str(row[kind]).encode() in blob
    # each encoding and digest form is found where it is
    for what, needle in needles(on_chain=True):
        assert leaks_in(b"..." + needle + b"...", "probe", on_chain=True), what
    for pad in (b"", b"a", b"ab"):  # a value inside longer base64 text, at each alignment
        encoded = base64.b64encode(pad + GOOD[0].id_number.encode() + b"!")
        assert leaks_in(encoded, "probe"), pad
    # the runs did what the scans below rely on
    a = flow.reports["submit A --json"]
    assert a["accepted"] == ROWS_PER_FILE and a["rejected"] == len(BAD) + 1
    assert flow.reports["submit B --json"]["accepted"] == ROWS_PER_FILE
    refused = {n: problems(row) for n, row in enumerate(flow.inputs["A"], 1) if problems(row)}
    assert {r["row"] for r in a["rejections"]} == set(refused)
    personal_refusals = {f for fields in refused.values() for f in fields} & set(PERSONAL)
    assert personal_refusals == {"subject_name", "subject_id_number", "subject_mobile",
                                 "account_id"}  # fmt: skip
    assert all(path.exists() for path in flow.bundles.values())


# -- (a) every file of the data dir --------------------------------------------------------


def test_no_canary_in_any_file_of_the_data_dirs(flow: Flow) -> None:
    files = list(files_under(flow.data_dir))
    names = {p.relative_to(flow.data_dir).as_posix() for p in files}
    assert {"ledger.sqlite", "chain/chain.sqlite", "deployment.json", "chain.key"} <= names
    assert any(n.startswith("abi/") for n in names) and any(n.startswith("keys/") for n in names)
    everything = b"".join(readable_bytes(p) for p in files)
    # what the scan reads does hold the records and the anchors (so it would see a leak)
    pseudonym = json.loads(flow.bundles["CANARY-A-0"].read_text())["record"]["subject_pseudonym"]
    assert b"CANARY-A-0" in everything and pseudonym.encode() in everything
    root = flow.reports["submit A --json"]["batches"][0]["root"]
    assert bytes.fromhex(root[2:]) in (flow.data_dir / "chain" / "chain.sqlite").read_bytes()
    # the data dir that only ever saw refused rows: its store lists them
    refused = list(files_under(flow.rejected_dir))
    assert b"check digit" in (flow.rejected_dir / "ledger.sqlite").read_bytes()
    leaks = leaks_in_files(files + refused)
    assert not leaks, leaks[:10]


# -- (b) the chain ----------------------------------------------------------------------


@dataclass
class ChainView:
    blobs: dict[str, bytes]  # where -> bytes read from the chain
    anchor_words: dict[str, set[bytes]]  # anchor tx hash -> its 32-byte words (input + logs)
    event_topic: bytes
    submitter: str
    registry: str


def words(data: bytes) -> set[bytes]:
    return {data[i : i + 32] for i in range(0, len(data) - len(data) % 32, 32)}


def read_chain(data_dir: Path, anchor_txs: Iterable[str]) -> ChainView:
    deployment = Deployment.load(data_dir / "deployment.json")
    blobs: dict[str, bytes] = {}
    with Chain.embedded(data_dir, holder="pytest") as chain:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        for e in registry.events(0):
            blobs[f"BatchAnchored {e.tx_hash}"] = b"".join(
                [e.batch_id, e.root, e.submitter.encode(), e.manifest_hash, e.log_head,
                 str((e.tree_size, e.kind, e.seq)).encode()]
            )  # fmt: skip
        w3 = chain.w3
        logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
        for log in logs:
            where = f"log {log['transactionHash'].to_0x_hex()}#{log['logIndex']}"
            blobs[where] = b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"])
        for number in range(w3.eth.block_number + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                full = w3.eth.get_transaction(tx["hash"])  # type: ignore[index]
                blobs[f"tx input {full['hash'].to_0x_hex()}"] = bytes(full["input"])
        anchor_words = {}
        for tx_hash in anchor_txs:
            tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            found = words(bytes(tx["input"])[4:])
            for log in receipt["logs"]:
                found |= {bytes(t) for t in log["topics"]} | words(bytes(log["data"]))
            anchor_words[tx_hash] = found
        topic = Web3.keccak(
            text="BatchAnchored(bytes32,bytes32,address,uint64,uint8,bytes32,uint64,bytes32)"
        )
        return ChainView(blobs, anchor_words, bytes(topic), chain.address.lower(), registry.address)


@pytest.fixture(scope="module")
def chain_view(flow: Flow) -> ChainView:
    reports = [flow.reports[f"submit {name} --json"] for name in ("A", "B")]
    return read_chain(flow.data_dir, [b["tx_hash"] for r in reports for b in r["batches"]])


def test_no_canary_on_chain(flow: Flow, chain_view: ChainView) -> None:
    blobs = chain_view.blobs
    anchored = sum(len(flow.reports[f"submit {f} --json"]["batches"]) for f in ("A", "B"))
    # two credit-data batches, and the inquiry log of the consent check (kind 2)
    assert sum(1 for w in blobs if w.startswith("BatchAnchored")) == anchored + 1 == 3
    assert sum(1 for w in blobs if w.startswith("tx input")) >= 2 + anchored  # deploys + anchors
    leaks = [leak for where, blob in blobs.items() for leak in leaks_in(blob, where, on_chain=True)]
    assert not leaks, leaks[:10]


def pseudonyms(flow: Flow) -> dict[str, str]:
    """Per-borrower values the store keeps (keyed HMACs): stable, so never on chain."""
    found = {}
    for name, path in flow.bundles.items():
        record = json.loads(path.read_text())["record"]
        for key in ("subject_pseudonym", "account_pseudonym"):
            found[f"{name} {key}"] = record[key]
    return found


def test_no_stable_per_borrower_value_on_chain(flow: Flow, chain_view: ChainView) -> None:
    stable = pseudonyms(flow)
    # the same borrower (GOOD[0]) has the same pseudonyms in both submissions, off chain ...
    for key in ("subject_pseudonym", "account_pseudonym"):
        assert stable[f"CANARY-A-0 {key}"] == stable[f"CANARY-B-0 {key}"]
    assert stable["CANARY-A-0 subject_pseudonym"] != stable["CANARY-B-3 subject_pseudonym"]
    # ... and none of them anywhere on chain, or in the chain's files
    chain_bytes = b"".join(chain_view.blobs.values())
    chain_bytes += b"".join(p.read_bytes() for p in files_under(flow.data_dir / "chain"))
    for what, value in stable.items():
        raw = bytes.fromhex(value.removeprefix("0x"))
        assert raw not in chain_bytes and value[2:].encode() not in chain_bytes, what

    # two anchors about the same borrowers share no value but the submitter and small numbers
    (a,) = flow.reports["submit A --json"]["batches"]
    (b,) = flow.reports["submit B --json"]["batches"]
    words_a, words_b = chain_view.anchor_words[a["tx_hash"]], chain_view.anchor_words[b["tx_hash"]]
    for batch, found in ((a, words_a), (b, words_b)):
        for key in ("batch_id", "root"):
            assert bytes.fromhex(batch[key][2:]) in found, key  # we read the anchor's words
    submitter = bytes.fromhex(chain_view.submitter[2:]).rjust(32, b"\0")
    allowed = {chain_view.event_topic, submitter}
    repeated = {w for w in words_a & words_b if w not in allowed and int.from_bytes(w) >= 2**64}
    assert not repeated, [w.hex() for w in repeated]


# -- (c) bundles, (d) what the commands printed and wrote ---------------------------------


def test_no_canary_in_bundles(flow: Flow) -> None:
    assert len(flow.bundles) == 3
    leaks = [leak for p in flow.bundles.values() for leak in leaks_in(p.read_bytes(), p.name)]
    leaks += leaks_in(flow.bundle_stdout.encode(), "bundle on stdout")
    assert '"record"' in flow.bundle_stdout
    assert not leaks, leaks


def test_no_canary_in_command_output_or_rejection_files(flow: Flow) -> None:
    table = flow.outputs["submit R (table)"]
    assert "Rejections" in table and re.search(r"\bsubject_id_number\b", table)
    # Control: the DEBUG log really was captured, row rejections included.
    assert '"msg": "batch stored"' in table
    assert '"msg": "row rejected"' in table
    for path in flow.written:
        assert path.read_text(encoding="utf-8").count("\n") > len(BAD)  # every refusal is listed
    leaks = [
        leak
        for label, text in flow.outputs.items()
        if "headerless" not in label
        for leak in leaks_in(text.encode(), label)
    ]
    leaks += [leak for p in flow.written for leak in leaks_in(p.read_bytes(), p.name)]
    assert not leaks, leaks[:10]


def test_a_file_without_its_header_row_does_not_echo_its_first_row(flow: Flow) -> None:
    """A CSV exported without its header: the first borrower's values become column names.

    The file is refused as a whole (its first row names no schema column), and
    nothing of that first row may be echoed anywhere.
    """
    assert (
        "names none of the credit-account-report columns"
        in flow.outputs["submit headerless --json"]
    )
    leaks = leaks_in(flow.outputs["submit headerless --json"].encode(), "submit output")
    leaks += leaks_in_files(files_under(flow.headerless_dir))
    assert not leaks, f"the first row of a header-less file was echoed: {leaks}"
