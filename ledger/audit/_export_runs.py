"""Export lines read a chunk at a time: whole runs of ordinary lines vouched for at once.

Nearly every line of an export is ordinary: a bundle as ``ledger export`` writes
it, whose record hashes to its leaf. :func:`scan` reads the file a chunk of lines
at a time and vouches, for the whole chunk, that
:func:`~ledger.audit._export_lines.scan_line` would read every line of it and find
its record hashing to its leaf; it then hands the lines on as columns
(:class:`Run`), making no object per line beyond what the decoder made. When a
test fails for the chunk, it is run line by line to tell which lines pass; each
line that does not, for whatever reason, is read by ``scan_line``, the rule: this
module only ever says that the rule has nothing to say.

A line is vouched for when:

- msgspec, typed with the bundle's members and no others (:class:`_Line`), reads
  it: strings where the bundle has text, integers (not booleans, not
  floats) for index and size, a list for the path, an object held to
  :data:`~ledger.proofs.canonical.PlainRecord` (or null) for the record. The type
  is also the depth bound: the decoder refuses a container where the type has
  none as soon as it meets it, so it never reads more than five levels down
  (``MAX_JSON_DEPTH`` allows 64); a line it refuses goes to ``scan_line``, which
  counts the depth before it parses;
- it names the bundle format and hash algorithm, and an index below its size;
- its hashes are lower-case hex (their length: the type; their digits:
  :func:`check_hex32_run`, over all of the chunk's hashes at once);
- its record's canonical bytes (:func:`canonical_plain_records`) hash to its leaf.
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
            yield from _chunk(number, lines, keep_record=keep_record)
            number += len(lines)


def _chunk(first: int, lines: list[str], *, keep_record: bool) -> list[tuple[int, Run | Entry]]:
    """A chunk's lines, in order: stretches of consecutive lines of one batch, each line
    vouched for, as runs; every other non-blank line as :func:`scan_line` reads it."""
    read = _read(lines)
    if read is None:
        return [
            (len(line), scan_line(first + i, line, keep_record=keep_record))
            for i, line in enumerate(lines)
            if not line.isspace()
        ]
    at, columns = read
    hashed, paths = _vouch(columns)
    *_, indexes, sizes, path_lists, roots, batch_ids, records = columns
    bounds = [0, *accumulate(map(len, path_lists))]

    def run(start: int, end: int) -> tuple[int, Run]:
        """The lines read ``start`` to ``end`` (each vouched for, consecutive, of one batch)."""
        chars = sum(map(len, lines[at[start] : at[end - 1] + 1]))
        leaves = [leaf for leaf in hashed[start:end] if leaf is not None]
        return chars, Run(
            first + at[start], batch_ids[start], indexes[start:end], sizes[start:end], leaves,
            roots[start:end], paths, bounds[start : end + 1],
            records[start:end] if keep_record else None,
        )  # fmt: skip

    if len(at) == len(lines) and None not in hashed:  # the usual chunk
        return [run(start, end) for start, end in _stretches(batch_ids)]
    out: list[tuple[int, Run | Entry]] = []
    place = dict(zip(at, range(len(at)), strict=True))
    start = end = -1  # the stretch being gathered, among the lines read (-1: none)
    for i, line in enumerate(lines):
        here = place.get(i, -1)
        if here < 0 or hashed[here] is None:
            here = -1
        if start >= 0 and (here < 0 or batch_ids[here] != batch_ids[start]):
            out.append(run(start, end))
            start = -1
        if here >= 0:
            start, end = (here if start < 0 else start), here + 1
        elif not line.isspace():
            out.append((len(line), scan_line(first + i, line, keep_record=keep_record)))
    if start >= 0:
        out.append(run(start, end))
    return out


#: A chunk's lines the decoder read, as columns (bundle members in _Line's order).
_Columns = tuple[tuple[Any, ...], ...]


def _read(lines: list[str]) -> tuple[list[int], _Columns] | None:
    """Which lines the decoder reads (their places in the chunk), and their members as
    columns; None when it reads none."""
    if max(map(len, lines)) <= MAX_LINE:
        try:
            return list(range(len(lines))), _columns(list(map(_DECODE, lines)))
        except msgspec.DecodeError:  # ValidationError too: some line is not ordinary
            pass
    maybe = [_decoded(line) for line in lines]
    at = [i for i, line in enumerate(maybe) if line is not None]
    if not at:
        return None
    return at, _columns([line for line in maybe if line is not None])


def _columns(read: list[_Line]) -> _Columns:
    formats, algs, leaves, indexes, sizes, paths, roots, batch_ids, _, records = zip(
        *map(astuple, read), strict=True
    )
    return formats, algs, leaves, indexes, sizes, paths, roots, batch_ids, records


def _decoded(line: str) -> _Line | None:
    if len(line) > MAX_LINE:
        return None
    try:
        return _DECODE(line)
    except msgspec.DecodeError:
        return None


def _vouch(columns: _Columns) -> tuple[Sequence[bytes | None], str]:
    """Each line's leaf hash, or None for a line not vouched for; and the paths' hashes
    joined. Each test runs on all the lines at once; line by line only when one fails."""
    _, _, leaves, _, _, paths, roots, batch_ids, _ = columns
    count = len(leaves)
    joined = "".join([*leaves, *roots, *batch_ids, *chain.from_iterable(paths)])
    hashed: Sequence[bytes | None] | None = _all_vouched(columns, joined)
    if hashed is None:
        hashed = _each_vouched(columns, joined)
    return hashed, joined[3 * count * HEX32_CHARS :]


def _all_vouched(columns: _Columns, joined: str) -> list[bytes] | None:
    """Every line's leaf hash when every line is ordinary and shows its record; else None."""
    formats, algs, leaves, indexes, sizes, _, _, _, records = columns
    count = len(leaves)
    if formats.count(BUNDLE_FORMAT) != count or algs.count(HASH_ALG) != count:
        return None
    if min(indexes) < 0 or not all(map(int.__lt__, indexes, sizes)) or None in records:
        return None
    try:
        check_hex32_run(joined)
        made = list(map(leaf_hash, canonical_plain_records(records)))
    except (ValueError, LedgerError):
        return None
    return made if b"".join(made) == hex32_bytes(joined[: count * HEX32_CHARS]) else None


def _each_vouched(columns: _Columns, joined: str) -> list[bytes | None]:
    """The same tests, telling which lines pass."""
    formats, algs, leaves, indexes, sizes, paths, roots, batch_ids, records = columns
    count = len(leaves)
    fine = [
        f == BUNDLE_FORMAT and a == HASH_ALG and 0 <= i < n
        for f, a, i, n in zip(formats, algs, indexes, sizes, strict=True)
    ]
    try:
        check_hex32_run(joined)
        given: list[bytes | None] = list(_split(hex32_bytes(joined[: count * HEX32_CHARS])))
    except ValueError:
        hexes = zip(leaves, roots, batch_ids, paths, strict=True)
        given = [_hash_of(leaf, (leaf, root, batch, *path)) for leaf, root, batch, path in hexes]
    made = _hashed(records, given)
    return [
        leaf if ok and leaf is not None and leaf == own else None
        for ok, leaf, own in zip(fine, given, made, strict=True)
    ]


def _hash_of(leaf: str, values: tuple[str, ...]) -> bytes | None:
    """A line's leaf hash, when all its hashes are lower-case hex; None otherwise."""
    try:
        check_hex32_run("".join(values))
    except ValueError:
        return None
    return hex32_bytes(leaf)


def _split(hashes: bytes) -> Iterator[bytes]:
    return (hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE))


def _hashed(records: Sequence[PlainRecord | None], given: list[bytes | None]) -> list[bytes | None]:
    """The leaf hash each line's record makes (its given one, for a line with none); None
    for a record without a canonical form."""
    shown = [record for record in records if record is not None]
    try:
        canonical: list[bytes | None] = list(canonical_plain_records(shown))
    except LedgerError:  # one without a canonical form: which?
        canonical = [_canonical_or_none(record) for record in shown]
    made = iter([None if text is None else leaf_hash(text) for text in canonical])
    return [
        leaf if record is None else next(made) for leaf, record in zip(given, records, strict=True)
    ]


def _canonical_or_none(record: PlainRecord) -> bytes | None:
    try:
        return canonical_plain_records([record])[0]
    except LedgerError:
        return None


def _stretches(batch_ids: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each stretch of consecutive lines of one batch."""
    count = len(batch_ids)
    if batch_ids.count(batch_ids[0]) == count:
        return [(0, count)]
    starts = [0, *(i for i in range(1, count) if batch_ids[i] != batch_ids[i - 1])]
    return list(zip(starts, [*starts[1:], count], strict=True))
