"""The stages in order, chunk by chunk, on several threads, with bounded memory.

read (:mod:`~ledger.ingest.read`) -> validate (:mod:`~ledger.ingest.validate`) ->
desensitise (:class:`~ledger.privacy.Desensitiser`) -> leak guard
(:mod:`~ledger.ingest.guard`) -> salt, canonicalise + leaf hash
(:mod:`~ledger.ingest.canonical`) -> :class:`~ledger.ingest.results.Results`, which
:mod:`~ledger.ingest.submission` cuts into batches, stores and anchors.

A file is cut into chunks of whole records; each chunk goes through every stage
on a worker thread. The stages are polars expressions and hashlib calls, which
run without the GIL, so the threads keep both cores busy. At most
``IN_FLIGHT_CHUNKS`` chunks are in flight, whatever the file size, and results
come back in file order, so batches are the same whatever the number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

import polars as pl

from ledger.ingest.canonical import JCS, LEAF, jcs
from ledger.ingest.guard import guard
from ledger.ingest.read import Chunk, csv_chunks, jsonl_chunks, read_csv, read_jsonl
from ledger.ingest.results import Refused, Results
from ledger.ingest.validate import validate
from ledger.privacy import Desensitiser, Policy
from ledger.privacy.policy import KEY_IDS_OUTPUT
from ledger.records.frame import ROW
from ledger.records.readers import RecordSource, bounded_lines, csv_header, open_records

SALT_BYTES: Final = 32
SALT_OUTPUT: Final = "salt"
RECORD_ID_OUTPUT: Final = "record_id"
#: Chunks read ahead of the one the submitter consumes: enough that the workers
#: keep going while the submitter stores and anchors a batch.
IN_FLIGHT_CHUNKS: Final = 4
#: Salt bytes for ``count`` rows of the chunk numbered ``index`` (tests make them repeatable).
Salts = Callable[[int, int], bytes]


def random_salts(index: int, count: int) -> bytes:
    """Fresh salts from the operating system's CSPRNG."""
    return os.urandom(SALT_BYTES * count)


class Stages:
    """One policy's stages: a chunk of rows in, its :class:`Results` out."""

    def __init__(
        self, policy: Policy, desensitiser: Desensitiser, *, salts: Salts = random_salts
    ) -> None:
        self.policy = policy
        self.desensitiser = desensitiser
        self._salts = salts
        key_ids = desensitiser.key_ids
        self._constants: dict[str, object] = {KEY_IDS_OUTPUT: dict(key_ids)} if key_ids else {}

    def run(self, chunk: Chunk, index: int = 0) -> Results:
        """Every stage after reading, for one chunk (rows numbered from 1 in it)."""
        validated, refused = validate(chunk.cells, chunk.rows)
        output = self.desensitiser.frame(validated)
        output, leaked = guard(output, validated, self._constants)
        salts = self._salts(index, output.height).hex()
        salt = pl.Series(
            SALT_OUTPUT,
            ["0x" + salts[i : i + 2 * SALT_BYTES] for i in range(0, len(salts), 2 * SALT_BYTES)],
            dtype=pl.String,
        )
        output = output.with_columns(salt)
        hashed = jcs(output.drop(ROW), self._constants).with_columns(
            output.get_column(ROW), output.get_column(RECORD_ID_OUTPUT)
        )
        refusals = sorted(refused + leaked, key=lambda r: r.row_number)
        return _results(hashed, refusals, chunk.last_row)


def _results(hashed: pl.DataFrame, refused: list[Refused], last_row: int) -> Results:
    out = Results(last_row=last_row)
    out.rows.extend(hashed.get_column(ROW).to_list())
    out.record_ids = hashed.get_column(RECORD_ID_OUTPUT).to_list()
    out.hashes = bytearray.fromhex(hashed.get_column(LEAF).str.join("").item() or "")
    texts = hashed.get_column(JCS)
    out.blob = bytearray(texts.str.join("").item().encode() if len(texts) else b"")
    ends = texts.str.len_bytes().cast(pl.Int64).cum_sum()
    out.ends.extend(ends.to_list())
    out.refused = refused
    return out


def results(source: RecordSource, stages: Stages, *, workers: int = 2) -> Iterator[Results]:
    """The results of every row of ``source``, in file order, chunk by chunk."""
    handle, is_jsonl = open_records(source)
    with handle, ThreadPoolExecutor(max(1, workers), thread_name_prefix="ledger-rows") as pool:
        jobs: Iterator[Callable[[], Chunk]]
        if is_jsonl:
            jobs = (_job(read_jsonl, text, lines) for text, lines in jsonl_chunks(handle))
        else:
            line = next(bounded_lines(handle), ("", True))[0]
            names = csv_header(line) if line.strip() else None
            if names is None and line.strip():
                read_csv(line, [], "")  # the row reader raises the header's ReaderError
            jobs = (_job(read_csv, line, names, text) for text in csv_chunks(handle) if names)
        yield from _in_order(pool, jobs, stages)


def _job(read: Callable[..., Chunk], *args: object) -> Callable[[], Chunk]:
    return lambda: read(*args)


def _in_order(
    pool: ThreadPoolExecutor, jobs: Iterator[Callable[[], Chunk]], stages: Stages
) -> Iterator[Results]:
    pending: deque[Future[Results]] = deque()
    offset = 0

    def work(job: Callable[[], Chunk], index: int) -> Results:
        return stages.run(job(), index)

    for index, job in enumerate(jobs):
        pending.append(pool.submit(work, job, index))
        if len(pending) >= IN_FLIGHT_CHUNKS:
            done = pending.popleft().result().shifted(offset)
            offset = max(offset, done.last_row)
            yield done
    while pending:
        done = pending.popleft().result().shifted(offset)
        offset = max(offset, done.last_row)
        yield done
