"""The stages in order, chunk by chunk, in worker processes, with bounded memory.

read (:mod:`~ledger.ingest.read`) -> validate (:mod:`~ledger.ingest.validate`) ->
desensitise (:class:`~ledger.privacy.Desensitiser`) -> leak guard
(:mod:`~ledger.ingest.guard`) -> salt, canonicalise + leaf hash
(:mod:`~ledger.ingest.canonical`), with the risk facts of co-funded records
(:func:`~ledger.alerts.events.risk_facts`) -> :class:`~ledger.ingest.results.Results`,
which :mod:`~ledger.ingest.submission` cuts into batches, stores (deriving the
risk alerts in the same transaction) and anchors.

A file is cut into chunks of whole records; each chunk goes through every stage
in a worker process (a chunk's many small polars calls and the per-distinct-value
Python checks hold the GIL too often for threads to use a second core). At most
``IN_FLIGHT_CHUNKS`` chunks are in flight, whatever the file size, and results
come back in file order, so batches are the same whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Final, TextIO

import polars as pl

from ledger.alerts.events import risk_facts
from ledger.ingest.canonical import JCS, LEAF, jcs
from ledger.ingest.guard import guard
from ledger.ingest.read import Chunk, csv_chunks, jsonl_chunks, read_csv, read_jsonl
from ledger.ingest.results import Refused, Results
from ledger.ingest.validate import validate
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.privacy.policy import KEY_IDS_OUTPUT
from ledger.records.frame import ROW
from ledger.records.readers import RecordSource, bounded_lines, csv_header, open_records
from ledger.records.schema import DEFAULT_VERSION, VERSION_FIELD

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
        self,
        policy: Policy,
        desensitiser: Desensitiser,
        *,
        salts: Salts = random_salts,
        facts: bool = True,
    ) -> None:
        self.policy = policy
        self.desensitiser = desensitiser
        self.salts = salts
        #: Whether each chunk's risk facts are taken (for the alerts; off: no alerts).
        self.facts = facts
        key_ids = desensitiser.key_ids
        self._constants: dict[str, object] = {KEY_IDS_OUTPUT: dict(key_ids)} if key_ids else {}

    def run(self, chunk: Chunk, index: int = 0) -> Results:
        """Every stage after reading, for one chunk (rows numbered from 1 in it)."""
        validated, refused = validate(chunk.cells, chunk.rows)
        validated, beyond = _within_policy(validated, self.policy.schema_version)
        refused += beyond
        output = self.desensitiser.frame(validated)
        output, leaked = guard(output, validated, self._constants)
        salts = self.salts(index, output.height).hex()
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
        done = _results(hashed, refusals, chunk.last_row)
        if self.facts:
            done.facts = risk_facts(output, hashed.get_column(LEAF))
        return done


def _within_policy(validated: pl.DataFrame, covered: int) -> tuple[pl.DataFrame, list[Refused]]:
    """The rows of a schema version the policy covers, and a refusal for each other row."""
    later = pl.col(VERSION_FIELD).fill_null(DEFAULT_VERSION) > covered
    rows = validated.filter(later).get_column(ROW).to_list()
    if not rows:
        return validated, []
    reason = f"the desensitisation policy covers schema_version {covered} at most"
    return validated.filter(~later), [Refused(row, VERSION_FIELD, reason) for row in rows]


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


#: What a worker is given for one chunk: (JSON Lines?, header line, text, lines, index).
Job = tuple[bool, str, str, int, int]

_STAGES: Stages | None = None  # a worker process's stages (see _start_worker)


def run_job(stages: Stages, job: Job) -> Results:
    """Read one chunk of a file and run every stage on it."""
    is_jsonl, line, text, lines, index = job
    if is_jsonl:
        chunk = read_jsonl(text, lines)
    else:
        names = csv_header(line)
        assert names is not None  # the header was read before any chunk was cut
        chunk = read_csv(line, names, text)
    return stages.run(chunk, index)


def _start_worker(policy: Policy, keyring: Keyring, salts: Salts, facts: bool) -> None:
    global _STAGES
    _STAGES = Stages(policy, Desensitiser(policy, keyring), salts=salts, facts=facts)


def _worker_job(job: Job) -> Results:
    assert _STAGES is not None
    return run_job(_STAGES, job)


def results(source: RecordSource, stages: Stages, *, workers: int = 1) -> Iterator[Results]:
    """The results of every row of ``source``, in file order, chunk by chunk.

    With ``workers`` > 1 the chunks run in that many worker processes (spawned, so
    they inherit no chain or database handle); otherwise in this thread.
    """
    handle, is_jsonl = open_records(source)
    with handle:
        jobs = _jobs(handle, is_jsonl)
        if workers <= 1:
            yield from _shifted(run_job(stages, job) for job in jobs)
            return
        context = multiprocessing.get_context("spawn")
        args = (stages.policy, stages.desensitiser.keyring, stages.salts, stages.facts)
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=args
        ) as pool:
            yield from _shifted(_in_flight(pool, jobs))


def _jobs(handle: TextIO, is_jsonl: bool) -> Iterator[Job]:
    if is_jsonl:
        for index, (text, lines) in enumerate(jsonl_chunks(handle)):
            yield True, "", text, lines, index
        return
    line = next(bounded_lines(handle), ("", True))[0]
    if not line.strip():
        return  # an empty file: no header, no rows
    if csv_header(line) is None:
        read_csv(line, [], "")  # the row reader raises the header's ReaderError
    for index, text in enumerate(csv_chunks(handle)):
        yield False, line, text, 0, index


def _in_flight(pool: ProcessPoolExecutor, jobs: Iterator[Job]) -> Iterator[Results]:
    """Each job's results in order, with at most ``IN_FLIGHT_CHUNKS`` submitted ahead."""
    pending: deque[Future[Results]] = deque()
    for job in jobs:
        pending.append(pool.submit(_worker_job, job))
        if len(pending) >= IN_FLIGHT_CHUNKS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _shifted(chunks: Iterator[Results]) -> Iterator[Results]:
    """Chunk results with rows numbered from the start of the file."""
    offset = 0
    for done in chunks:
        done = done.shifted(offset)
        offset = max(offset, done.last_row)
        yield done
