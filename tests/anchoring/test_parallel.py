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


def _threaded(path: Path, data_dir: Path, workers: int = 2) -> list[Accepted | list[Refused]]:
    policy = Policy.load(None)
    keyring = Keyring.load_or_create(data_dir, NAMES)
    chunks = list(
        parallel.threaded_csv_results(
            path,
            workers=workers,
            make_processor=lambda: RecordProcessor(policy, Desensitiser(policy, keyring)),
        )
    )
    return [item for chunk in chunks for item in chunk.items()]


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_blocks_on_threads_match_a_serial_run(
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
    monkeypatch.setattr(parallel, "BLOCK_CHARS", 3_000)  # ~10 rows a block: many chunks
    got = _threaded(path, data_dir, workers)
    expected = _serial(path, data_dir)
    assert _shape(got) == _shape(expected)
    assert sum(isinstance(r, Accepted) for r in got) > 150


def test_over_long_lines_and_stray_quotes_read_as_the_serial_reader_does(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.records import readers

    monkeypatch.setattr(readers, "MAX_LINE_CHARS", 5_000)
    monkeypatch.setattr(parallel, "MAX_LINE_CHARS", 5_000)
    monkeypatch.setattr(parallel, "BLOCK_CHARS", 2_000)
    rows = list(synthetic_rows(60, seed=9))
    path = tmp_path / "p.csv"
    write_csv(rows, path)
    lines = path.read_text().splitlines(keepends=True)
    lines[10] = "x" * 12_000 + "\n"  # longer than a line may be: refused, reading goes on
    lines[30] = lines[30].replace("RPT-9-29", 'RPT-9-"29', 1)  # a stray quote
    path.write_text("".join(lines))
    got = _threaded(path, data_dir)
    expected = _serial(path, data_dir)
    assert _shape(got) == _shape(expected)
    refusals = [r for r in got if not isinstance(r, Accepted)]
    assert any("longer than" in p.reason for r in refusals for p in r)


def test_a_stray_quote_in_the_block_reader_reads_as_the_serial_reader_does(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "BLOCK_CHARS", 2_000)
    monkeypatch.setattr(parallel, "MAX_CHUNK_CHARS", 9_000)  # cut anyway past this
    rows = list(synthetic_rows(80, seed=10))
    path = tmp_path / "p.csv"
    write_csv(rows, path)
    lines = path.read_text().splitlines(keepends=True)
    lines[15] = lines[15].replace("RPT-10-14", 'RPT-10-"14', 1)  # odd quotes from here on
    path.write_text("".join(lines))
    got = _threaded(path, data_dir)
    expected = _serial(path, data_dir)
    assert _shape(got) == _shape(expected)
