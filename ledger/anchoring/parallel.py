"""Process a records file on several cores, in order, with bounded memory.

The parent only cuts the file into chunks of whole records (a CSV record may
span lines inside quotes, so a chunk ends only where the quote count is even)
and numbers the results; workers parse, validate, desensitise, guard, salt and
hash. At most ``IN_FLIGHT_CHUNKS`` chunks are in flight, whatever the file size:
enough that workers keep going while the parent stores and anchors a batch.
Results come back in file order, so batches are the same as a serial run's.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

from ledger.anchoring.process import RecordProcessor, Results, Wire
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.records.readers import MAX_LINE_CHARS, bounded_lines, open_records

#: Rows per chunk: large enough that pickling overhead is small, small enough
#: that the in-flight chunks stay a few MiB.
CHUNK_ROWS = 2_000
#: Chunks read ahead of the one the parent consumes (~2 MiB of text and results
#: each): storing and anchoring one 10,000-record batch takes the parent about
#: as long as the workers need for 16 chunks, so they never wait for it.
IN_FLIGHT_CHUNKS = 16
WORKER_GC_THRESHOLDS = (50_000, 20, 20)

_Chunk = tuple[bool, str, str, int]  # (is_jsonl, header, text, number of physical lines)

_PROCESSOR: RecordProcessor | None = None


def _init(policy_file: Path | None, data_dir: Path, key_names: tuple[str, ...]) -> None:
    global _PROCESSOR
    policy = Policy.load(policy_file)
    keyring = Keyring.load_or_create(data_dir, key_names)
    _PROCESSOR = RecordProcessor(policy, Desensitiser(policy, keyring))
    # A record makes a dozen small dicts and lists and no reference cycles: left
    # at its defaults the cycle collector runs every ~70 records and rescans the
    # imported modules, for ~10% of a worker's time. Refcounting frees chunks.
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)


def _work(chunk: _Chunk) -> tuple[int, Wire]:
    """Process one chunk; returns its row count and its results in compact form."""
    is_jsonl, header, text, n_lines = chunk
    assert _PROCESSOR is not None
    results = _PROCESSOR.process_text(header + text, jsonl=is_jsonl)
    return (n_lines if is_jsonl else results.last_row), results.to_wire()


def _chunks(path: Path, slots: threading.Semaphore) -> Iterator[_Chunk]:
    handle, is_jsonl = open_records(path)
    with handle:
        header = "" if is_jsonl else next(bounded_lines(handle), ("", True))[0]
        lines: list[str] = []
        open_quote = False
        for line, whole in bounded_lines(handle):
            # An over-long line reaches the worker as one the reader also refuses.
            lines.append(line if whole else "x" * MAX_LINE_CHARS + "\n")
            if not is_jsonl and line.count('"') % 2:
                open_quote = not open_quote
            if len(lines) >= CHUNK_ROWS and not open_quote:
                slots.acquire()
                yield is_jsonl, header, "".join(lines), len(lines)
                lines = []
        if lines:
            slots.acquire()
            yield is_jsonl, header, "".join(lines), len(lines)


def parallel_results(
    path: Path,
    *,
    workers: int,
    policy_file: Path | None,
    data_dir: Path,
    key_names: tuple[str, ...],
) -> Iterator[Results]:
    """Like processing ``read_rows(path)`` row by row, on ``workers`` processes, chunk by chunk."""
    slots = threading.Semaphore(max(2 * workers, IN_FLIGHT_CHUNKS))
    # spawn, not fork: children must not inherit the chain lock or database handles.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(policy_file, data_dir, key_names)) as pool:
        offset = 0
        for count, wire in pool.imap(_work, _chunks(path, slots)):
            slots.release()
            yield Results.from_wire(wire, offset)
            offset += count
