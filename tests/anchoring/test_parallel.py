"""Parallel processing gives the serial results: same rows, same order, same refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.anchoring import parallel
from ledger.anchoring.process import Accepted, RecordProcessor, Refused
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.records import read_rows, synthetic_rows, write_csv, write_jsonl

NAMES = ("account", "subject")


def _shape(results: list[Accepted | list[Refused]]) -> list[object]:
    """Results without salts (random per run): row numbers, record ids, refusals."""
    return [
        (r.row_number, r.record_id) if isinstance(r, Accepted)
        else [(x.row_number, x.field, x.reason) for x in r]
        for r in results
    ]  # fmt: skip


def _serial(path: Path, data_dir: Path) -> list[Accepted | list[Refused]]:
    policy = Policy.load(None)
    processor = RecordProcessor(
        policy, Desensitiser(policy, Keyring.load_or_create(data_dir, NAMES))
    )
    return [processor.process(row) for row in read_rows(path)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_chunks_on_workers_match_a_serial_run(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    rows = list(synthetic_rows(60, seed=5, invalid_ratio=0.2))
    path = tmp_path / f"p.{fmt}"
    if fmt == "csv":
        write_csv(rows, path)
        # A quoted cell spanning lines must not be cut between chunks: data line 21
        # (index 21, after the header) ends the third 7-line chunk.
        text = path.read_text().splitlines(keepends=True)
        assert text[21].startswith("RPT-5-20,")
        text[21] = text[21].replace("RPT-5-20", '"RPT-5-\n20"', 1)
        path.write_text("".join(text))
    else:
        write_jsonl(rows, path)
        lines = path.read_text().splitlines(keepends=True)
        lines[10:10] = ["\n", "{not json\n"]  # blank lines count, bad lines are refused
        path.write_text("".join(lines))
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 7)
    chunks = list(
        parallel.parallel_results(
            path, workers=2, policy_file=None, data_dir=data_dir, key_names=NAMES
        )
    )
    assert len(chunks) > 5  # really cut into chunks
    got = [item for chunk in chunks for item in chunk.items()]
    expected = _serial(path, data_dir)
    assert _shape(got) == _shape(expected)
    assert sum(isinstance(r, Accepted) for r in got) > 30
    assert any(not isinstance(r, Accepted) for r in got)
