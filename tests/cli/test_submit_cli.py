"""``ledger submit FILE`` as a user runs it: real ``ledger`` processes on a deployed data dir.

What the CLI reports is checked against what the library says in this process
(validation of the very rows that were written), against the store (leaf hashes
rebuild each batch root) and against the chain (each batch is anchored with the
reported root and size, in the reported transaction).
"""

from __future__ import annotations

import csv
import json
import random
import re
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ledger.chain import Chain, Deployment
from ledger.chain.registry import AnchorRegistryClient
from ledger.proofs import MerkleTree
from ledger.records import PERSONAL_FIELDS, RecordRejected, validate_record
from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv, write_jsonl
from ledger.store import Batch, Store
from ledger.store.leaves import batch_leaves
from tests.cli._cli import one_error_line, run, run_all
from tests.conftest import copy_deployment

HEX32 = re.compile(r"0x[0-9a-f]{64}")
#: Wide enough that rich never wraps or truncates a table cell (a value cut in two
#: would slip past a substring search).
WIDE = {"COLUMNS": "400"}
#: The table shows this many rejections; the rest only in --json or --rejections FILE.
SHOWN_REJECTIONS = 20

Triple = tuple[int, str, str]


# -- data dirs -----------------------------------------------------------------------


@pytest.fixture
def deployed(deployed_template: Path, tmp_path: Path) -> Path:
    return copy_deployment(deployed_template, tmp_path / "data")


# -- what the library says, in process ----------------------------------------------


def as_csv_reads_it(row: Mapping[str, object]) -> dict[str, object]:
    """A CSV cell is text: a float amount arrives as its decimal string."""
    return {k: str(v) if isinstance(v, float) else v for k, v in row.items()}


def expected_rejections(rows: Sequence[Mapping[str, object]], *, as_csv: bool) -> set[Triple]:
    """(row, field, reason) for every problem validation finds, rows numbered from 1."""
    found: set[Triple] = set()
    for number, row in enumerate(rows, 1):
        try:
            validate_record(as_csv_reads_it(row) if as_csv else row)
        except RecordRejected as exc:
            found.update((number, p.field, p.reason) for p in exc.problems)
    return found


def rejected_rows(triples: set[Triple]) -> set[int]:
    return {row for row, _, _ in triples}


def report_triples(report: Mapping[str, Any]) -> list[Triple]:
    return [(r["row"], r["field"], r["reason"]) for r in report["rejections"]]


# -- what the chain and the store say --------------------------------------------------


@dataclass
class OnChain:
    anchor_count: int
    anchors: dict[str, tuple[str, int, int]]  # batch id -> (root, tree size, block)
    receipts: dict[str, tuple[int, int, str]]  # tx hash -> (status, block, to)
    registry: str


def read_chain(data_dir: Path, batch_ids: Sequence[str], tx_hashes: Sequence[str]) -> OnChain:
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir, holder="pytest") as chain:
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        anchors = {}
        for batch_id in batch_ids:
            record = registry.anchor_by_batch(bytes.fromhex(batch_id[2:]))
            assert record is not None, f"batch {batch_id} is not anchored"
            anchors[batch_id] = ("0x" + record.root.hex(), record.tree_size, record.block_number)
        receipts = {}
        for tx_hash in tx_hashes:
            receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            receipts[tx_hash] = (
                int(receipt["status"]),
                int(receipt["blockNumber"]),
                str(receipt["to"]).lower(),
            )
        return OnChain(registry.anchor_count(), anchors, receipts, registry.address)


def store_batches(data_dir: Path) -> dict[str, tuple[list[bytes], list[str]]]:
    """batch id -> (leaf hashes, record ids), both in leaf order."""
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            out: dict[str, tuple[list[bytes], list[str]]] = {}
            for batch in s.scalars(select(Batch)):
                leaves = batch_leaves(s, batch.batch_id)
                out[batch.batch_id] = (
                    [bytes(leaf.leaf_hash) for leaf in leaves],
                    [leaf.record_id for leaf in leaves],
                )
            return out
    finally:
        store.close()


def check_batches_on_chain(data_dir: Path, report: Mapping[str, Any]) -> OnChain:
    batches = report["batches"]
    for b in batches:
        for key in ("batch_id", "root", "tx_hash"):
            assert HEX32.fullmatch(b[key]), (key, b[key])
        assert b["resumed"] is False
    for key in ("batch_id", "root", "tx_hash"):
        assert len({b[key] for b in batches}) == len(batches), f"repeated {key}"
    blocks = [b["block_number"] for b in batches]
    assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
    chain = read_chain(data_dir, [b["batch_id"] for b in batches], [b["tx_hash"] for b in batches])
    assert chain.anchor_count == len(batches)
    for b in batches:
        assert chain.anchors[b["batch_id"]] == (b["root"], b["tree_size"], b["block_number"])
        assert chain.receipts[b["tx_hash"]] == (1, b["block_number"], chain.registry)
    stored = store_batches(data_dir)
    assert set(stored) == {b["batch_id"] for b in batches}
    for b in batches:
        leaves, _ = stored[b["batch_id"]]
        assert len(leaves) == b["tree_size"]
        assert "0x" + MerkleTree(leaves).root.hex() == b["root"]
    return chain


# -- the report --------------------------------------------------------------------------

FORMATS = [
    pytest.param("csv", "portfolio.csv", id="csv"),
    pytest.param("jsonl", "portfolio.jsonl", id="jsonl"),
    pytest.param("csv", "portfolio.export", id="csv-detected-by-content"),
    pytest.param("jsonl", "portfolio.txt", id="jsonl-detected-by-content"),
]


@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_json_report_matches_validation_store_and_chain(
    deployed: Path, tmp_path: Path, fmt: str, name: str
) -> None:
    rows = list(synthetic_rows(90, seed=21, invalid_ratio=0.3))
    path = tmp_path / name
    (write_csv if fmt == "csv" else write_jsonl)(rows, path)
    expected = expected_rejections(rows, as_csv=fmt == "csv")
    bad_rows = rejected_rows(expected)
    assert 10 < len(bad_rows) < 60  # the test is about a real mix

    done = run("submit", str(path), "--data-dir", str(deployed), "--batch-size", "25", "--json")
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower()
    report = json.loads(done.stdout)

    assert HEX32.fullmatch(report["submission_id"])
    assert report["already_complete"] is False
    assert report["accepted"] == len(rows) - len(bad_rows)
    assert report["rejected"] == len(bad_rows)
    triples = report_triples(report)
    assert len(triples) == len(set(triples))
    assert set(triples) == expected
    sizes = [b["tree_size"] for b in report["batches"]]
    full, last = divmod(report["accepted"], 25)
    assert sizes == [25] * full + ([last] if last else [])
    check_batches_on_chain(deployed, report)

    # every accepted row is a leaf, in file order, and no rejected row is
    ids = [record_id for leaves in store_batches(deployed).values() for record_id in leaves[1]]
    accepted_ids = [row["report_id"] for n, row in enumerate(rows, 1) if n not in bad_rows]
    assert sorted(ids) == sorted(accepted_ids)


# -- batches, and running the same file again -----------------------------------------


@dataclass
class SplitRun:
    data_dir: Path
    path: Path
    rows: list[dict[str, object]]
    report: dict[str, Any]


@pytest.fixture(scope="module")
def split_run(deployed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> SplitRun:
    base = tmp_path_factory.mktemp("split")
    data_dir = copy_deployment(deployed_template, base / "data")
    rows = list(synthetic_rows(130, seed=22))
    assert not expected_rejections(rows, as_csv=True)  # all 130 are valid
    path = base / "valid.csv"
    write_csv(rows, path)
    done = run("submit", str(path), "--data-dir", str(data_dir), "--batch-size", "50", "--json")
    assert done.returncode == 0, done.stderr
    return SplitRun(data_dir, path, rows, json.loads(done.stdout))


def test_batch_size_splits_the_file_in_order(split_run: SplitRun) -> None:
    report = split_run.report
    assert report["accepted"] == 130 and report["rejected"] == 0
    assert report["rejections"] == []
    assert [b["tree_size"] for b in report["batches"]] == [50, 50, 30]
    check_batches_on_chain(split_run.data_dir, report)
    stored = store_batches(split_run.data_dir)
    ids = [row["report_id"] for row in split_run.rows]
    in_batches = [stored[b["batch_id"]][1] for b in report["batches"]]
    assert in_batches == [ids[:50], ids[50:100], ids[100:]]


def test_running_the_same_file_again_anchors_nothing_new(split_run: SplitRun) -> None:
    first = split_run.report
    commands = [
        ["submit", str(split_run.path), "--data-dir", str(split_run.data_dir), "--json"],
        ["submit", str(split_run.path), "--data-dir", str(split_run.data_dir), "--batch-size", "7"],
    ]
    for args in commands:
        done = run(*args, env=WIDE)
        assert done.returncode == 0, done.stderr
        if "--json" in args:
            again = json.loads(done.stdout)
            assert again["already_complete"] is True
            assert again["submission_id"] == first["submission_id"]
            assert again["batches"] == []
            assert (again["accepted"], again["rejected"]) == (130, 0)
        else:
            assert "already complete" in done.stdout
    ids = [b["batch_id"] for b in first["batches"]]
    chain = read_chain(split_run.data_dir, ids, [b["tx_hash"] for b in first["batches"]])
    assert chain.anchor_count == 3
    assert set(store_batches(split_run.data_dir)) == set(ids)


# -- rejections: all of them, and never a personal value --------------------------------


def with_bad_personal_values(rows: list[dict[str, object]]) -> None:
    """Break a personal field in a few rows, one way each (on top of the generator's breakages)."""
    rows[3]["subject_name"] = "张三7号"  # digits are not a name
    rows[7]["account_id"] = "LN-TOO-LONG-" + "7" * 60  # over 64 characters
    rows[9]["account_id"] = "LN-\x07-BELL-009"  # a control character
    rows[11]["subject_mobile"] = "1390013900"  # ten digits
    rows[15].update(subject_id_type="10", subject_id_number="99999919800101123X")  # no region
    number = str(rows[19]["subject_id_number"])
    if rows[19]["subject_id_type"] == "10":  # wrong check character on a real-looking ID
        rows[19]["subject_id_number"] = number[:-1] + ("1" if number[-1] != "1" else "2")


@dataclass
class RejectionRuns:
    rows: list[dict[str, object]]
    expected: set[Triple]
    as_json: subprocess.CompletedProcess[str]
    as_table: subprocess.CompletedProcess[str]
    rejections_csv: Path


@pytest.fixture(scope="module")
def rejection_runs(
    deployed_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> RejectionRuns:
    base = tmp_path_factory.mktemp("rejections")
    rows = list(synthetic_rows(150, seed=33, invalid_ratio=0.5))
    with_bad_personal_values(rows)
    path = base / "mixed.csv"
    write_csv(rows, path)
    one, two = (
        copy_deployment(deployed_template, base / "a"),
        copy_deployment(deployed_template, base / "b"),
    )
    rejections_csv = base / "rejections.csv"
    as_json, as_table = run_all(
        [
            ["submit", str(path), "--data-dir", str(one), "--json"],
            ["submit", str(path), "--data-dir", str(two), "--rejections", str(rejections_csv)],
        ],
        env=WIDE,
    )
    assert as_json.returncode == 0, as_json.stderr
    assert as_table.returncode == 0, as_table.stderr
    return RejectionRuns(
        rows, expected_rejections(rows, as_csv=True), as_json, as_table, rejections_csv
    )


def personal_values(row: Mapping[str, object]) -> list[str]:
    found = []
    for name in sorted(PERSONAL_FIELDS):
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    return found


def test_rejection_report_never_contains_personal_values(rejection_runs: RejectionRuns) -> None:
    runs = rejection_runs
    assert {"subject_name", "subject_id_number", "subject_mobile", "account_id"} <= {
        field for _, field, _ in runs.expected
    }, "the input must have rows rejected for each personal field"
    report = json.loads(runs.as_json.stdout)
    assert set(report_triples(report)) == runs.expected
    outputs = {
        "--json stdout+stderr": runs.as_json.stdout + runs.as_json.stderr,
        "table stdout+stderr": runs.as_table.stdout + runs.as_table.stderr,
        "--rejections file": runs.rejections_csv.read_text(encoding="utf-8"),
    }
    # the table does list the rejections it shows, so a leak would have had its chance
    shown = sorted(rejected_rows(runs.expected))[: SHOWN_REJECTIONS // 2]
    for row in shown:
        assert re.search(rf"\b{row}\b", runs.as_table.stdout), row
    leaks, checked = [], 0
    for number in sorted(rejected_rows(runs.expected)):
        for value in personal_values(runs.rows[number - 1]):
            checked += 1
            leaks += [(number, value, where) for where, text in outputs.items() if value in text]
    assert checked >= 3 * len(rejected_rows(runs.expected))
    assert not leaks, f"personal values of rejected rows were echoed: {leaks[:10]}"


def test_rejections_file_lists_every_rejection(rejection_runs: RejectionRuns) -> None:
    runs = rejection_runs
    with runs.rejections_csv.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["row", "field", "reason"]
    written = [(int(row), field, reason) for row, field, reason in table[1:]]
    assert len(written) == len(set(written))
    assert set(written) == runs.expected
    assert len(rejected_rows(runs.expected)) > SHOWN_REJECTIONS  # more than the table shows
    hidden = len(runs.expected) - SHOWN_REJECTIONS
    assert f"and {hidden} more" in runs.as_table.stdout
    assert "--rejections" in runs.as_table.stdout


# -- failures: one line, non-zero ------------------------------------------------------


def garbage_bytes(path: Path) -> None:
    path.write_bytes(random.Random(404).randbytes(8192))


def html_page(path: Path) -> None:
    path.write_text(
        "<!doctype html>\n<html><head><title>502 Bad Gateway</title></head>\n"
        "<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("case", "make", "name"),
    [
        pytest.param("a missing file", None, "nowhere.csv", id="missing"),
        pytest.param("random bytes", garbage_bytes, "portfolio.csv", id="random-bytes"),
        pytest.param("an HTML error page", html_page, "portfolio.csv", id="html-page"),
    ],
)
def test_unusable_input_file_is_one_error_line(
    deployed: Path, tmp_path: Path, case: str, make: Any, name: str
) -> None:
    path = tmp_path / name
    if make is not None:
        make(path)
    done = run("submit", str(path), "--data-dir", str(deployed))
    assert done.returncode != 0, (
        f"`ledger submit` of {case} exited 0 instead of failing with one error line:\n"
        f"{done.stdout[:600]}"
    )
    one_error_line(done)
    chain = read_chain(deployed, [], [])
    assert chain.anchor_count == 0


@pytest.mark.parametrize("exists", [True, False], ids=["empty-dir", "no-dir"])
def test_not_yet_deployed_data_dir_is_one_error_line(tmp_path: Path, exists: bool) -> None:
    data_dir = tmp_path / "fresh"
    if exists:
        data_dir.mkdir(mode=0o700)
    path = tmp_path / "portfolio.csv"
    write_csv(list(synthetic_rows(5, seed=1)), path)
    done = run("submit", str(path), "--data-dir", str(data_dir), "--json")
    line = one_error_line(done)
    assert "deploy" in line
    assert done.stdout == ""
    assert not (data_dir / "deployment.json").exists()


def test_submit_help_has_an_example() -> None:
    done = run("submit", "--help", env=WIDE)
    assert done.returncode == 0, done.stderr
    assert re.search(r"Example:\s+ledger submit \S+", done.stdout), done.stdout
    for option in ("--batch-size", "--rejections", "--json", "--data-dir"):
        assert option in done.stdout


def test_a_locked_store_is_one_error_line_and_the_rerun_stores_everything(
    deployed: Path, tmp_path: Path
) -> None:
    """Another process holds the store's write lock longer than the submit waits."""
    path = tmp_path / "portfolio.csv"
    rows = list(synthetic_rows(40, seed=3, invalid_ratio=0.0))
    write_csv(rows, path)
    Store.open(deployed).close()  # tables and WAL mode in place, as any used store has
    holder = sqlite3.connect(deployed / "ledger.sqlite", isolation_level=None)
    env = {"LEDGER_STORE_BUSY_TIMEOUT": "0.3"}
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long writer holds it
        done = run("submit", str(path), "--data-dir", str(deployed), "--json", env=env)
        line = one_error_line(done)
        assert "the store did not answer: database is locked" in line
        assert done.returncode == 1
    finally:
        holder.close()
    assert read_chain(deployed, [], []).anchor_count == 0
    again = run("submit", str(path), "--data-dir", str(deployed), "--json", env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["accepted"] == len(rows)
    assert read_chain(deployed, [], []).anchor_count == len(report["batches"]) == 1
