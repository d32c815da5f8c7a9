"""Files mixing schema v1 and v2 rows: the chunked pipeline gives, row for row, what the
per-record path gives (CSV split by version and JSON Lines alike), and a policy for v1 refuses
the v2 rows by name while it anchors the v1 ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.ingest import Stages, read
from ledger.ingest.results import Accepted, Refused
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.records import codes, synthetic_rows, write_csv, write_jsonl
from tests.ingest.test_pipeline import _chunked, _per_record, _salts, _stages
from tests.privacy.test_policy import default_document


def as_v2(row: dict[str, object]) -> dict[str, object]:
    """A synthetic v1 row written as v2 (wrong values stay wrong)."""
    out = dict(row, schema_version="2")
    frequency = codes.V1_TO_V2["repayment_frequency"]
    out["repayment_frequency"] = frequency.get(str(row.get("repayment_frequency")), "M")
    if row.get("account_type") == "R2":
        statuses = codes.V1_TO_V2["account_status@R2"]
        out["account_status"] = statuses.get(str(row.get("account_status")), "9")
    closed = out.get("account_status") == ("4" if row.get("account_type") == "R2" else "3")
    out["report_reason"] = "20" if closed else "30"
    return out


def mixed_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i, row in enumerate(synthetic_rows(240, seed=21, invalid_ratio=0.15)):
        if i % 3 == 1:
            row = as_v2(row)
            loan = row.get("account_type") != "R2"
            if i % 27 == 1:
                row["account_status"] = "7" if loan else "31"
            elif i % 33 == 1 and loan:
                row["account_status"] = "31"  # a card status on a loan: refused
            if i % 45 == 1:
                row["special_transactions"] = [
                    {"type": "1", "date": "2025-01-05", "amount": "100.00", "months": 3}
                ]
        elif i % 50 == 0:
            row = dict(row, report_reason="30")  # a v2 field in a v1 row
        elif i % 70 == 0:
            row = dict(row, schema_version="9")
        rows.append(row)
    return rows


def test_mixed_csv_chunks_match_the_per_record_path(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.csv"
    write_csv(mixed_rows(), path)
    monkeypatch.setattr(read, "BLOCK_CHARS", 3_000)
    monkeypatch.setattr(read, "CHUNK_CHARS", 9_000)
    stages = _stages(data_dir)
    got = _chunked(path, stages, workers=1)
    assert got == _per_record(path, stages)
    _check_outcomes(got)


def test_mixed_jsonl_chunks_match_the_per_record_path(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.jsonl"
    write_jsonl(mixed_rows(), path)
    monkeypatch.setattr(read, "JSONL_CHUNK_LINES", 40)
    stages = _stages(data_dir)
    got = _chunked(path, stages, workers=1)
    assert got == _per_record(path, stages)
    _check_outcomes(got)


def _check_outcomes(got: list[Accepted | list[Refused]]) -> None:
    accepted = [r for r in got if isinstance(r, Accepted)]
    v2 = [r for r in accepted if b'"schema_version":2' in r.canonical]
    assert len(v2) > 40 and len(accepted) - len(v2) > 80
    assert not any(b"schema_version" in r.canonical for r in accepted if r not in v2)
    assert any(b'"account_status":"7"' in r.canonical for r in v2)
    assert any(b'"special_transactions":[{' in r.canonical for r in v2)
    problems = [(p.field, p.reason) for r in got if isinstance(r, list) for p in r]
    assert ("report_reason", "not a field of schema_version 1") in problems
    assert ("schema_version", "must be one of 1, 2") in problems
    assert any(f == "account_status" and "loan statuses" in r for f, r in problems)


def test_a_v1_policy_anchors_v1_rows_and_refuses_v2_rows_by_name(
    tmp_path: Path, data_dir: Path
) -> None:
    document = default_document()
    document["schema_version"] = 1
    for field in ("schema_version", "report_reason", "special_transactions", "related_parties"):
        del document["fields"][field]
    policy = Policy.from_mapping(document)
    keyring = Keyring.load_or_create(data_dir, ("account", "subject"))
    stages = Stages(policy, Desensitiser(policy, keyring), salts=_salts)
    rows = list(synthetic_rows(6, seed=3))
    rows[2] = as_v2(rows[2])
    path = tmp_path / "two.jsonl"
    write_jsonl(rows, path)
    got = _chunked_one(path, stages)
    assert got[2] == [
        Refused(3, "schema_version", "the desensitisation policy covers schema_version 1 at most")
    ]
    assert all(isinstance(r, Accepted) for i, r in enumerate(got) if i != 2)


def _chunked_one(path: Path, stages: Stages) -> list[Accepted | list[Refused]]:
    from ledger.ingest import pipeline

    return [item for chunk in pipeline.results(path, stages) for item in chunk.items()]
