"""Export lines read a chunk at a time: whole runs of ordinary lines vouched for at once.

Nearly every line of an export is ordinary: a bundle as ``ledger export`` writes
it, whose record hashes to its leaf. :func:`scan` reads the file a chunk of lines
at a time and vouches, for the whole chunk, that
:func:`~ledger.audit._export_lines.scan_line` would read every line of it and find
its record hashing to its leaf; it then hands the lines on as columns
(:class:`Run`), making no object per line beyond what the decoder made. A chunk
it cannot vouch for, for whatever reason, is read line by line by ``scan_line``,
the rule: this module only ever says that the rule has nothing to say. (So a
chunk with one hostile line costs the rule's time for its ~100 lines.)

A chunk is vouched for when:

- msgspec, typed with the bundle's members and no others (:class:`_Line`), reads
  every line: strings where the bundle has text, integers (not booleans, not
  floats) for index and size, a list for the path, an object held to
  :data:`~ledger.proofs.canonical.PlainRecord` (or null) for the record. The type
  is also the depth bound: the decoder refuses a container where the type has
  none as soon as it meets it, so it never reads more than five levels down
  (``MAX_JSON_DEPTH`` allows 64); a line it refuses goes to ``scan_line``, which
  counts the depth before it parses;
- every line names the bundle format and hash algorithm, and an index below its size;
- every hash is lower-case hex (its length: the type; its digits:
  :func:`check_hex32_run`, over all of the chunk's hashes at once);
- every record's canonical bytes (:func:`canonical_plain_records`) hash to its leaf.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from msgspec.structs import astuple

from ledger.audit._export_lines import (
    HEX32_CHARS,
    MAX_LINE,
    RECORD_OK,
    Entry,
    Scanned,
    check_hex32_run,
    hex32_bytes,
    scan_line,
)
from ledger.errors import LedgerError
from ledger.proofs import BUNDLE_FORMAT, HASH_ALG, HASH_SIZE, leaf_hash
from ledger.proofs.canonical import PlainRecord, canonical_plain_records

#: Characters read at a time: ~100 bundle lines. Measured on a 20k-line export: 256-512 KiB
#: chunks check fastest (~13.5 us a line); 16 KiB ~17 us, 4 MiB ~24 us (out of the CPU's cache).
CHUNK_CHARS: Final = 256 * 1024


#: A hash as the decoder is to read it: text of a hash's length (its digits: check_hex32_run).
_Hash = Annotated[str, msgspec.Meta(min_length=HEX32_CHARS, max_length=HEX32_CHARS)]


class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A bundle line as the decoder is to read it: these members, of these types."""

    format: str
    hash_alg: str
    leaf_hash: _Hash
    leaf_index: int
    tree_size: int
    audit_path: list[_Hash]
    root: _Hash
    batch_id: _Hash
    anchor: dict[str, str | int | bool | None] | None = None
    record: PlainRecord | None = None


_DECODE: Final = msgspec.json.Decoder(_Line).decode


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive lines of one batch, each readable and its record (if any) hashing to its
    leaf, as columns: what :func:`scan_line` makes of them, without a tuple per line."""

    first: int  # the first line's number; the others follow it
    batch_id: str
    indexes: Sequence[int]
    sizes: Sequence[int]
    leaves: Sequence[bytes]
    roots: Sequence[str]
    paths: str  # the audit paths' hashes as the lines write them, joined
    bounds: Sequence[int]  # line i's path is hashes bounds[i] to bounds[i + 1] of ``paths``
    records: Sequence[dict[str, Any] | None] | None  # None: not kept

    def __len__(self) -> int:
        return len(self.indexes)

    def path(self, i: int) -> bytes:
        """Line ``i``'s audit path, its hashes joined."""
        return hex32_bytes(
            self.paths[self.bounds[i] * HEX32_CHARS : self.bounds[i + 1] * HEX32_CHARS]
        )

    def record(self, i: int) -> dict[str, Any] | None:
        return None if self.records is None else self.records[i]

    def entries(self) -> list[Scanned]:
        """Each line as :func:`scan_line` reads it."""
        return [
            (self.first + i, self.batch_id, index, size, leaf, root, self.path(i),
             self.record(i), RECORD_OK, leaf)
            for i, (index, size, leaf, root) in enumerate(
                zip(self.indexes, self.sizes, self.leaves, self.roots, strict=True)
            )
        ]  # fmt: skip

    @classmethod
    def of(cls, entry: Scanned) -> Run:
        """One line that :func:`scan_line` read and found hashing right, as a run of one."""
        number, batch_id, index, size, leaf, root, path, record, _, _ = entry
        hashes = len(path) // HASH_SIZE
        paths = "".join(
            ["0x" + path[i : i + HASH_SIZE].hex() for i in range(0, len(path), HASH_SIZE)]
        )
        return cls(number, batch_id, [index], [size], [leaf], [root], paths, [0, hashes], [record])


def scan(path: Path, *, keep_record: bool) -> Iterator[tuple[int, Run | Entry]]:
    """(characters read, lines) for every non-blank line, in order: runs of lines vouched
    for, and each other line as :func:`scan_line` reads it."""
    number = 1
    with path.open(encoding="utf-8") as fh:
        while lines := fh.readlines(CHUNK_CHARS):
            runs = _vouched(number, lines, keep_record=keep_record)
            if runs is not None:
                yield from runs
            else:
                for at, line in enumerate(lines, number):
                    if not line.isspace():
                        yield len(line), scan_line(at, line, keep_record=keep_record)
            number += len(lines)


def _vouched(first: int, lines: list[str], *, keep_record: bool) -> list[tuple[int, Run]] | None:
    """The lines as runs, one per batch, when every one is ordinary; None otherwise."""
    if max(map(len, lines)) > MAX_LINE:
        return None
    try:
        read = list(map(_DECODE, lines))
    except msgspec.DecodeError:  # ValidationError too
        return None
    formats, algs, leaves, indexes, sizes, paths, roots, batch_ids, _, records = zip(
        *map(astuple, read), strict=True
    )
    count = len(read)
    if formats.count(BUNDLE_FORMAT) != count or algs.count(HASH_ALG) != count:
        return None
    if min(indexes) < 0 or not all(map(int.__lt__, indexes, sizes)):
        return None
    try:
        joined = "".join([*leaves, *roots, *batch_ids, *chain.from_iterable(paths)])
        check_hex32_run(joined)
        hashed = _hashed(records, hex32_bytes(joined[: count * HEX32_CHARS]))
    except (ValueError, TypeError, LedgerError):
        return None
    if hashed is None:
        return None
    blob = joined[3 * count * HEX32_CHARS :]
    bounds = [0, *accumulate(map(len, paths))]
    return [
        (
            sum(map(len, lines[start:end])),
            Run(
                first + start, batch_ids[start], indexes[start:end], sizes[start:end],
                hashed[start:end], roots[start:end], blob, bounds[start : end + 1],
                records[start:end] if keep_record else None,
            ),
        )
        for start, end in _stretches(batch_ids)
    ]  # fmt: skip


def _hashed(records: Sequence[PlainRecord | None], leaves: bytes) -> Sequence[bytes] | None:
    """Each line's leaf hash when every record hashes to its line's; None otherwise."""
    shown = [record for record in records if record is not None]
    computed = list(map(leaf_hash, canonical_plain_records(shown)))
    if len(shown) == len(records):  # an export of records, none erased: the usual chunk
        return computed if b"".join(computed) == leaves else None
    given = [leaves[i : i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE)]
    expected = [leaf for leaf, record in zip(given, records, strict=True) if record is not None]
    return given if computed == expected else None


def _stretches(batch_ids: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each stretch of consecutive lines of one batch."""
    count = len(batch_ids)
    if batch_ids.count(batch_ids[0]) == count:
        return [(0, count)]
    starts = [0, *(i for i in range(1, count) if batch_ids[i] != batch_ids[i - 1])]
    return list(zip(starts, [*starts[1:], count], strict=True))
