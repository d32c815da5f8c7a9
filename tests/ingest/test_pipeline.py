"""The chunked pipeline gives, row for row, what the per-record path gives each row alone.

The per-record path: the row reader, :func:`~ledger.records.validate_record`,
:meth:`~ledger.privacy.Desensitiser.apply`, :class:`~ledger.privacy.LeakGuard` and
:func:`~ledger.proofs.canonical_bytes`. Salts are fixed so canonical bytes compare.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.ingest import Stages, pipeline, read
from ledger.ingest.results import Accepted, Refused
from ledger.privacy import Desensitiser, Keyring, LeakDetected, LeakGuard, Policy
from ledger.proofs import canonical_bytes, leaf_hash
from ledger.records import (
    RecordRejected,
    personal_values,
    read_rows,
    synthetic_rows,
    validate_record,
    write_csv,
    write_jsonl,
)

NAMES = ("account", "subject")
SALT = "0x" + "01" * 32


def _salts(index: int, count: int) -> bytes:
    return b"\x01" * 32 * count


def _stages(data_dir: Path) -> Stages:
    policy = Policy.load(None)
    desensitiser = Desensitiser(policy, Keyring.load_or_create(data_dir, NAMES))
    return Stages(policy, desensitiser, salts=_salts)


def _per_record(path: Path, stages: Stages) -> list[Accepted | list[Refused]]:
    out: list[Accepted | list[Refused]] = []
    guard = LeakGuard()
    for row in read_rows(path):
        if row.fields is None:
            out.append([Refused(row.row_number, "-", row.error or "")])
            continue
        try:
            record = validate_record(row.fields)
        except RecordRejected as exc:
            out.append([Refused(row.row_number, p.field, p.reason) for p in exc.problems])
            continue
        made = stages.desensitiser.apply(record)
        try:
            guard.check(made, personal_values(record))
        except LeakDetected as exc:
            reason = f"leak guard: output has a {exc.kind}"
            out.append([Refused(row.row_number, exc.field, reason)])
            continue
        made["salt"] = SALT
        text = canonical_bytes(made)
        out.append(Accepted(row.row_number, str(made["record_id"]), leaf_hash(text), text))
    return out


def _chunked(path: Path, stages: Stages, workers: int = 2) -> list[Accepted | list[Refused]]:
    chunks = list(pipeline.results(path, stages, workers=workers))
    assert len(chunks) > 2  # really cut into chunks
    return [item for chunk in chunks for item in chunk.items()]


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_chunks_match_the_per_record_path(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    rows = list(synthetic_rows(300, seed=6, invalid_ratio=0.2))
    path = tmp_path / "p.csv"
    write_csv(rows, path)
    lines = path.read_text().splitlines(keepends=True)
    # quoted line breaks, one of them straddling the block size; CRLF; blank lines
    for i in (20, 21, 57, 120):
        lines[i] = lines[i].replace(f"RPT-6-{i - 1},", f'"RPT-6-\n{i - 1}",', 1)
    lines[200] = lines[200].replace("\n", "\r\n")
    lines[201:201] = ["\n", "\r\n"]
    path.write_text("".join(lines))
    monkeypatch.setattr(read, "BLOCK_CHARS", 3_000)  # ~10 rows a block
    monkeypatch.setattr(read, "CHUNK_CHARS", 9_000)  # ~30 rows a chunk: many chunks
    stages = _stages(data_dir)
    got = _chunked(path, stages, workers)
    assert got == _per_record(path, stages)
    assert sum(isinstance(r, Accepted) for r in got) > 150


def test_jsonl_chunks_match_the_per_record_path(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = list(synthetic_rows(60, seed=5, invalid_ratio=0.2))
    path = tmp_path / "p.jsonl"
    write_jsonl(rows, path)
    lines = path.read_text().splitlines(keepends=True)
    lines[10:10] = ["\n", "{not json\n"]  # blank lines count, bad lines are refused
    path.write_text("".join(lines))
    monkeypatch.setattr(read, "JSONL_CHUNK_LINES", 7)
    stages = _stages(data_dir)
    got = _chunked(path, stages)
    assert got == _per_record(path, stages)
    assert sum(isinstance(r, Accepted) for r in got) > 30
    assert any(not isinstance(r, Accepted) for r in got)


def test_over_long_lines_and_stray_quotes_read_as_the_row_reader_does(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.records import readers

    monkeypatch.setattr(readers, "MAX_LINE_CHARS", 5_000)
    monkeypatch.setattr(read, "MAX_LINE_CHARS", 5_000)
    monkeypatch.setattr(read, "BLOCK_CHARS", 2_000)
    monkeypatch.setattr(read, "CHUNK_CHARS", 4_000)
    rows = list(synthetic_rows(60, seed=9))
    path = tmp_path / "p.csv"
    write_csv(rows, path)
    lines = path.read_text().splitlines(keepends=True)
    lines[10] = "x" * 12_000 + "\n"  # longer than a line may be: refused, reading goes on
    lines[30] = lines[30].replace("RPT-9-29", 'RPT-9-"29', 1)  # a stray quote
    path.write_text("".join(lines))
    stages = _stages(data_dir)
    got = _chunked(path, stages, workers=1)  # worker processes would not see the patched limit
    assert got == _per_record(path, stages)
    refusals = [r for r in got if not isinstance(r, Accepted)]
    assert any("longer than" in p.reason for r in refusals for p in r)
