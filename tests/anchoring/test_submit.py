"""A submission is named by its bytes, whether they are a file or held in memory."""

from __future__ import annotations

from pathlib import Path

from ledger.ingest.submission import file_sha256
from ledger.records import synthetic_rows, write_jsonl
from ledger.records.readers import RecordBytes


def test_rows_in_memory_hash_as_the_file_of_their_bytes(tmp_path: Path) -> None:
    """The API submits rows from memory: a retry, or ``ledger submit`` of a file with the
    same bytes, must resume the same submission."""
    path = tmp_path / "rows.jsonl"
    write_jsonl(synthetic_rows(5, seed=10), path)
    data = path.read_bytes()
    assert file_sha256(RecordBytes("request.jsonl", data)) == file_sha256(path)
    assert file_sha256(RecordBytes("request.jsonl", data + b"\n")) != file_sha256(path)
