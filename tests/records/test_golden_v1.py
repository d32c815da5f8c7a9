"""Schema v2 leaves every v1 record as it was: the golden bundles written by main before v2
existed (``golden_v1/``, from ``ledger bundle`` on a data dir whose pseudonym keys were the
test constants below) still verify, re-serialise byte for byte, and the same raw v1 rows give,
through today's pipeline (CSV and JSON Lines) and today's per-record path, the same records and
leaf hashes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.ingest import Stages, pipeline
from ledger.ingest.results import Accepted
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.privacy.keys import PseudonymKey
from ledger.proofs import ProofBundle, bundle_text, canonical_bytes, leaf_hash, verify_bundle
from ledger.records import read_rows, validate_record, write_csv
from tests.cli._cli import run

GOLDEN = Path(__file__).parent / "golden_v1"
#: The keys the golden data dir was given through LEDGER_PSEUDONYM_KEYS (test constants).
KEYS = {
    "subject": PseudonymKey("subject", "golden-subject-1", bytes.fromhex("11" * 32)),
    "account": PseudonymKey("account", "golden-account-1", bytes.fromhex("22" * 32)),
}
BUNDLES = sorted(GOLDEN.glob("*.bundle.json"))


def _bundles() -> list[ProofBundle]:
    return [ProofBundle.loads(path.read_text(encoding="utf-8")) for path in BUNDLES]


def _stages(bundles: list[ProofBundle]) -> Stages:
    salts = b"".join(bytes.fromhex(str(b.record["salt"])[2:]) for b in bundles if b.record)

    def golden_salts(index: int, count: int) -> bytes:
        assert (index, count) == (0, len(bundles))
        return salts

    policy = Policy.load(None)
    desensitiser = Desensitiser(policy, Keyring(KEYS, source="golden test keys"))
    return Stages(policy, desensitiser, salts=golden_salts, facts=False)


def test_there_are_golden_bundles() -> None:
    assert len(BUNDLES) == 3


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_golden_bundle_verifies_and_reserialises_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    bundle = ProofBundle.loads(text)
    verify_bundle(bundle)
    assert bundle_text(bundle) + "\n" == text  # what `ledger bundle -o` writes


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_golden_bundle_verifies_with_the_cli_offline(path: Path) -> None:
    done = run("verify", "--offline", str(path))
    assert done.returncode == 0, done.stderr
    assert "VALID" in done.stdout


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_the_same_v1_rows_give_the_same_records_and_leaf_hashes(tmp_path: Path, form: str) -> None:
    bundles = _bundles()
    source = GOLDEN / "v1.jsonl"
    if form == "csv":
        source = tmp_path / "v1.csv"
        write_csv([json.loads(line) for line in (GOLDEN / "v1.jsonl").open()], source)
    (done,) = list(pipeline.results(source, _stages(bundles)))
    items = [item for item in done.items() if isinstance(item, Accepted)]
    assert [item.leaf_hash for item in items] == [b.leaf_hash for b in bundles]
    for item, bundle in zip(items, bundles, strict=True):
        assert bundle.record is not None
        assert item.canonical == canonical_bytes(bundle.record)


def test_the_per_record_path_gives_the_same_records() -> None:
    bundles = _bundles()
    desensitiser = Desensitiser(Policy.load(None), Keyring(KEYS, source="golden test keys"))
    for row, bundle in zip(read_rows(GOLDEN / "v1.jsonl"), bundles, strict=True):
        assert row.fields is not None
        record = validate_record(row.fields)
        assert "schema_version" not in record
        made = desensitiser.apply(record)
        assert bundle.record is not None
        made["salt"] = bundle.record["salt"]
        assert made == bundle.record
        assert leaf_hash(canonical_bytes(made)) == bundle.leaf_hash


def test_a_v1_row_stating_version_1_is_the_same_record() -> None:
    (row, *_) = read_rows(GOLDEN / "v1.jsonl")
    assert row.fields is not None
    assert validate_record({**row.fields, "schema_version": 1}) == validate_record(row.fields)
    assert validate_record({**row.fields, "schema_version": "1"}) == validate_record(row.fields)
