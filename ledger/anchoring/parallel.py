"""Process a records file on several cores, in order, with bounded memory.

CSV files are cut into chunks of whole records, read a block at a time (a CSV
record may span lines inside quotes, so a chunk ends only where the quote count
is even), and processed on threads: the compiled fast path
(:mod:`ledger.anchoring.fastrows`) releases the GIL, so the threads run on all
cores with nothing to copy between processes. JSON Lines rows are Python work
through and through, so they go to worker processes instead.

At most ``IN_FLIGHT_CHUNKS`` chunks are in flight, whatever the file size.
Results come back in file order, so batches are the same as a serial run's.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from ledger._failpoints import failpoint
from ledger.anchoring.process import RecordProcessor, Results, Wire
from ledger.privacy import Desensitiser, Keyring, Policy
from ledger.records.readers import (
    MAX_LINE_CHARS,
    LineSource,
    RecordSource,
    bounded_lines,
    open_records,
    read_rows,
)

#: Rows per JSON Lines chunk: large enough that pickling overhead is small.
CHUNK_ROWS = 2_000
#: Characters read at a time from a CSV file, so a chunk is about this size. Below
#: MAX_LINE_CHARS / 2, so a block without a newline flags any line that could be too long.
BLOCK_CHARS = 1 << 18
#: A CSV chunk whose quotes never balance (a stray quote) is cut here anyway: the
#: csv reader gave up on that field long before (its field limit is 128 Ki characters).
MAX_CHUNK_CHARS = 16 * MAX_LINE_CHARS
#: Chunks read ahead of the one the submitter consumes: enough that the workers
#: keep going while the submitter stores and anchors a batch.
IN_FLIGHT_CHUNKS = 16
WORKER_GC_THRESHOLDS = (50_000, 20, 20)

_Chunk = tuple[bool, str, str, int]  # (is_jsonl, header, text, number of physical lines)

_PROCESSOR: RecordProcessor | None = None


def csv_chunks(handle: TextIO) -> Iterator[str]:
    """The data lines of a CSV file (header already read) in chunks of whole records.

    Reads ``BLOCK_CHARS`` at a time and cuts after the last newline at which the
    quote count is even. A block without any newline may hold an over-long
    line: from there on, lines are read one by one (:func:`_line_chunks`), which
    marks such a line exactly as the row reader does.
    """
    carry = ""
    while block := handle.read(BLOCK_CHARS):
        if "\n" not in block:
            yield from _line_chunks(_Rest(carry + block, handle), BLOCK_CHARS)
            return
        text = carry + block
        last = text.rfind("\n") + 1
        cut = _record_end(text, last)
        if cut == 0 and len(text) > MAX_CHUNK_CHARS:
            cut = last
        carry = text[cut:]
        if cut:
            yield text[:cut]
    if carry:
        yield carry


def _record_end(text: str, cut: int) -> int:
    """``cut`` if the quotes before it are balanced, else the last line end where they are."""
    if text.count('"', 0, cut) % 2 == 0:
        return cut
    end, at, open_quote = 0, 0, False
    while (nl := text.find("\n", at, cut)) >= 0:
        open_quote ^= text.count('"', at, nl) % 2 == 1
        at = nl + 1
        if not open_quote:
            end = at
    return end


class _Rest:
    """Text already read, then the rest of a file: for reading on line by line."""

    def __init__(self, head: str, handle: TextIO) -> None:
        self._head = io.StringIO(head, newline="")
        self._handle = handle

    def readline(self, size: int = -1, /) -> str:
        limit = size
        line = self._head.readline(limit)
        if line and (line[-1] in "\r\n" or len(line) == limit):
            return line
        more = self._handle.readline(limit - len(line) if limit >= 0 else -1)
        return line + more


def _line_chunks(handle: LineSource, chars: int) -> Iterator[str]:
    """Chunks of about ``chars`` characters, line by line; over-long lines stay over-long."""
    lines: list[str] = []
    size, open_quote = 0, False
    for line, whole in bounded_lines(handle):
        # An over-long line reaches the worker as one the reader also refuses.
        line = line if whole else "x" * MAX_LINE_CHARS + "\n"
        lines.append(line)
        size += len(line)
        if line.count('"') % 2:
            open_quote = not open_quote
        if size >= chars and not open_quote:
            yield "".join(lines)
            lines, size = [], 0
    if lines:
        yield "".join(lines)


def threaded_csv_results(
    source: RecordSource, *, workers: int, make_processor: Callable[[], RecordProcessor]
) -> Iterator[Results]:
    """Like processing ``read_rows(source)`` row by row, on ``workers`` threads, chunk by chunk."""
    local = threading.local()

    def work(header: str, text: str) -> Wire:
        processor = getattr(local, "processor", None)
        if processor is None:
            processor = local.processor = make_processor()
        return processor.process_csv(header, text)

    handle, is_jsonl = open_records(source)
    assert not is_jsonl
    with handle, ThreadPoolExecutor(workers, thread_name_prefix="ledger-rows") as pool:
        header = next(bounded_lines(handle), ("", True))[0]
        pending: deque[Future[Wire]] = deque()
        offset = 0
        for text in csv_chunks(handle):
            pending.append(pool.submit(work, header, text))
            if len(pending) >= IN_FLIGHT_CHUNKS:
                results = Results.from_wire(pending.popleft().result(), offset)
                offset = max(offset, results.last_row)
                yield results
        while pending:
            results = Results.from_wire(pending.popleft().result(), offset)
            offset = max(offset, results.last_row)
            yield results


def results_source(
    source: RecordSource,
    *,
    workers: int,
    make_processor: Callable[[], RecordProcessor],
    policy_file: Path | None,
    data_dir: Path,
    key_names: tuple[str, ...],
) -> Iterator[Results]:
    """Results of a CSV file on threads, or of a JSON Lines file on ``workers`` processes."""
    handle, is_jsonl = open_records(source)
    handle.close()
    if not is_jsonl:
        return threaded_csv_results(source, workers=workers, make_processor=make_processor)
    if workers <= 1:
        return serial_results(source, make_processor())
    return parallel_results(
        source, workers=workers, policy_file=policy_file, data_dir=data_dir, key_names=key_names
    )


def serial_results(source: RecordSource, processor: RecordProcessor) -> Iterator[Results]:
    """Row by row, in this thread: each result as soon as its row is done."""
    for row in read_rows(source):
        results = Results()
        results.add(processor.process(row))
        yield results
        failpoint("row-processed")


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
    if is_jsonl:
        return n_lines, _PROCESSOR.process_text(text, jsonl=True).to_wire()
    wire = _PROCESSOR.process_csv(header, text)
    return wire[-1], wire


def _chunks(source: RecordSource, slots: threading.Semaphore) -> Iterator[_Chunk]:
    handle, is_jsonl = open_records(source)
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
    source: RecordSource,
    *,
    workers: int,
    policy_file: Path | None,
    data_dir: Path,
    key_names: tuple[str, ...],
) -> Iterator[Results]:
    """Like processing ``read_rows(source)`` row by row on ``workers`` processes, chunk by chunk."""
    slots = threading.Semaphore(max(2 * workers, IN_FLIGHT_CHUNKS))
    # spawn, not fork: children must not inherit the chain lock or database handles.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(policy_file, data_dir, key_names)) as pool:
        offset = 0
        for count, wire in pool.imap(_work, _chunks(source, slots)):
            slots.release()
            yield Results.from_wire(wire, offset)
            offset += count
