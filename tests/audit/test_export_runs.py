"""Exports read a chunk at a time, held to the rule: every line as ``scan_line`` reads it,
and every finding and passed record as the line-by-line check gave them.

The lines are real bundles (``make_bundle``) of small batches, written as ``ledger
export`` writes them and as the benchmark does (ASCII-escaped); the chain's state is
built from their trees, so no chain is needed to judge them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.audit import _export_runs
from ledger.audit._export_lines import MAX_LINE, scan_line
from ledger.audit._export_runs import Run, _vouched, scan
from ledger.audit.findings import AuditReport
from ledger.audit.records import ExportedLeaf, check_records
from ledger.audit.replay import ChainAnchor, ChainState, hx
from ledger.proofs import (
    AnchorAttestation,
    MerkleTree,
    ProofBundle,
    bundle_text,
    canonical_bytes,
    leaf_hash,
    make_bundle,
    record_leaf_hash,
)
from ledger.store import Batch, Store, StoredLeaf, leaves
from tests.audit.reference_checker import reference_check
from tests.audit.test_export_lines import scanned_lines, text_reading

SIZES = (5, 8, 1)  # three batches; the last of a single leaf (an empty audit path)
ANCHOR = AnchorAttestation(
    chain_id=1337,
    registry=bytes(range(20)),
    tx_hash=bytes(32),
    block_number=7,
    block_timestamp=datetime(2026, 11, 26, 4, 0, tzinfo=UTC),
)


def record(batch: int, index: int) -> dict[str, Any]:
    return {
        "record_id": f"RPT-{batch}-{index}",
        "amount_due": "1203.50",
        "days_past_due": index * 30,
        "funders": [{"org_code": "9134010030034807QH", "share_bp": 10000}],
        "pseudonym_key_ids": {"account": "account-1", "subject": None},
        "closed": index % 2 == 0,
        "region": "\u5317\u4eac",
        "salt": "0x" + bytes([batch, index] * 16).hex(),
    }


def bundles() -> tuple[ChainState, list[dict[str, Any]]]:
    """The bundles of every leaf of the three batches, and the chain's state for them."""
    state = ChainState(
        chain_id=1337, anchor_registry="0x" + "11" * 20, consent_registry="0x" + "22" * 20,
        from_block=0, next_block=1,
    )  # fmt: skip
    out = []
    for batch, size in enumerate(SIZES):
        records = [record(batch, i) for i in range(size)]
        tree = MerkleTree([record_leaf_hash(r) for r in records])
        batch_id = bytes([batch + 1]) * 32
        state.anchors[hx(batch_id)] = ChainAnchor(
            hx(batch_id), hx(tree.root), size, 1, "0x" + "33" * 32, batch, "0x" + "44" * 32,
            "0x" + "55" * 32, batch + 1,
        )  # fmt: skip
        for i, r in enumerate(records):
            out.append(make_bundle(r, i, tree, batch_id, ANCHOR).to_json())
    return state, out


def as_export(bundle: dict[str, Any]) -> str:
    """A line as ``ledger export`` writes it (``bundle_text``, raw UTF-8)."""
    return json.dumps(bundle, ensure_ascii=False) + "\n"


def as_ascii(bundle: dict[str, Any]) -> str:
    """A line as the benchmark writes it (``json.dumps``, ASCII escapes)."""
    return json.dumps(bundle) + "\n"


def test_the_export_form_is_bundle_text() -> None:
    _, (first, *_) = bundles()
    assert as_export(first) == bundle_text(_bundle_of(first), indent=None) + "\n"


def _bundle_of(data: dict[str, Any]) -> ProofBundle:
    return ProofBundle.from_json(data)


def with_record(bundle: dict[str, Any], value: Any, leaf: bytes | None = None) -> dict[str, Any]:
    """``bundle`` carrying ``value`` as its record, and ``leaf`` (or the record's own) as leaf."""
    if leaf is None:
        leaf = record_leaf_hash(value)
    return {**bundle, "record": value, "leaf_hash": hx(leaf)}


def orjson_leaf(value: Any) -> bytes:
    """The leaf of ``value`` as orjson writes it, sorted: what a fast path without its
    checks would take for canonical."""
    return leaf_hash(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


DEEP = "[" * 100_000 + "]" * 100_000


def _text(edit: Callable[[str], str]) -> Callable[[dict[str, Any]], str]:
    return lambda b: edit(as_ascii(b))


#: Lines the chunked reading must not vouch for, each beside ordinary ones: what each
#: one is, and the line made from an ordinary bundle.
HOSTILE: dict[str, Callable[[dict[str, Any]], str]] = {
    "float hashed as orjson writes it": lambda b: as_ascii(
        with_record(b, {"a": 1.5}, orjson_leaf({"a": 1.5}))
    ),
    "integral float": lambda b: as_ascii(with_record(b, {"a": 2.0}, orjson_leaf({"a": 2.0}))),
    "integer beyond 2**53": lambda b: as_ascii(
        with_record(b, {"a": 2**53}, orjson_leaf({"a": 2**53}))
    ),
    "integer beyond 2**64": lambda b: as_ascii(with_record(b, {"a": 2**70}, bytes(32))),
    "NaN": lambda b: as_ascii(with_record(b, {"a": float("nan")}, bytes(32))),
    "lone surrogate": lambda b: as_ascii(with_record(b, {"a": "x\ud800"}, bytes(32))),
    "lone surrogate in a key": lambda b: as_ascii(with_record(b, {"\udc00": 1}, bytes(32))),
    "record nested five levels": lambda b: as_ascii(with_record(b, {"a": nested(4)})),
    "record nested 64 levels": lambda b: as_ascii(with_record(b, {"a": nested(63)})),
    "record nested beyond the bound": lambda b: as_ascii(
        with_record(b, {"a": nested(70)}, bytes(32))
    ),
    "100000 levels in the record": _text(
        lambda t: t.replace('"record": {', f'"record": {{"d": {DEEP}, ', 1)
    ),
    "100000 levels as the anchor": _text(
        lambda t: t.replace('"anchor": {', f'"anchor": {DEEP}, "x": {{', 1)
    ),
    "100000 levels in another member": _text(lambda t: t[:-2] + f', "more": {DEEP}}}\n'),
    "astral keys, sorted by UTF-16": lambda b: as_ascii(
        with_record(b, {"\U0001f600": 1, "\ufb33": 2})
    ),
    "astral keys, sorted by code point": lambda b: as_ascii(
        with_record(b, {"\U0001f600": 1, "\ufb33": 2}, orjson_leaf({"\U0001f600": 1, "\ufb33": 2}))
    ),
    "non-ASCII key": lambda b: as_export(with_record(b, {"\u00e9t\u00e9": "\u5317"})),
    "record tampered": lambda b: as_ascii({**b, "record": {**b["record"], "amount_due": "0.00"}}),
    "record not an object": lambda b: as_ascii({**b, "record": ["a"]}),
    "record null": lambda b: as_ascii({**b, "record": None}),
    "record left out": lambda b: as_ascii({k: v for k, v in b.items() if k != "record"}),
    "anchor left out": lambda b: as_ascii({k: v for k, v in b.items() if k != "anchor"}),
    "anchor nested": lambda b: as_ascii({**b, "anchor": {"a": {"b": 1}}}),
    "another member": lambda b: as_ascii({**b, "note": "hello"}),
    "index twice, the last out of range": _text(
        lambda t: t.replace('"tree_size": ', '"leaf_index": 99, "tree_size": ', 1)
    ),
    "index twice, the first out of range": _text(
        lambda t: t.replace('"leaf_index": ', '"leaf_index": 99, "leaf_index": ', 1)
    ),
    "index a boolean": lambda b: as_ascii({**b, "leaf_index": False}),
    "size a float": lambda b: as_ascii({**b, "tree_size": 8.0}),
    "index negative": lambda b: as_ascii({**b, "leaf_index": -1}),
    "index at the size": lambda b: as_ascii({**b, "leaf_index": b["tree_size"]}),
    "another format": lambda b: as_ascii({**b, "format": "credit-anchor/proof-bundle/v2"}),
    "another hash algorithm": lambda b: as_ascii({**b, "hash_alg": "sha3"}),
    "root upper-case": lambda b: as_ascii({**b, "root": b["root"].upper().replace("0X", "0x")}),
    "batch id short": lambda b: as_ascii({**b, "batch_id": b["batch_id"][:-2]}),
    "leaf hash not text": lambda b: as_ascii({**b, "leaf_hash": 7}),
    "path hash with a space": lambda b: as_ascii(
        {**b, "audit_path": [h[:10] + " " + h[11:] for h in b["audit_path"]] or ["0x" + " " * 64]}
    ),
    "path an object of hashes": lambda b: as_ascii(
        {**b, "audit_path": dict.fromkeys(b["audit_path"], 1)}
    ),
    "path escaped": _text(lambda t: t.replace('"audit_path": ["0x', '"audit_path": ["\\u0030x', 1)),
    "not JSON": lambda b: "not json\n",
    "two bundles on a line": lambda b: as_ascii(b)[:-1] + " " + as_ascii(b),
    "a line too long": lambda b: as_ascii(with_record(b, {"a": "x" * MAX_LINE})),
    "blank": lambda b: " \t\n",
    "whitespace to str only": lambda b: "\x1c\u3000\n",
    "carriage return ending": lambda b: as_ascii(b)[:-1] + "\r\n",
    "lone carriage return": lambda b: as_ascii(b)[:-1] + "\r" + as_ascii(b),
    "a byte-order mark": lambda b: "\ufeff" + as_ascii(b),
}


def lines_with(hostile: str) -> tuple[ChainState, list[str]]:
    state, all_bundles = bundles()
    made = [as_export(b) for b in all_bundles]
    made.insert(3, HOSTILE[hostile](all_bundles[6]))  # in the first batch, from the second
    return state, made


@pytest.fixture(params=[1, 3000, 1 << 20], ids=["line-chunks", "small-chunks", "one-chunk"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(_export_runs, "CHUNK_CHARS", request.param)
    return int(request.param)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_line_reads_as_the_rule_reads_it(hostile: str, chunk: int, tmp_path: Path) -> None:
    _, made = lines_with(hostile)
    path = tmp_path / "export.jsonl"
    path.write_text("".join(made), encoding="utf-8")
    # repr: a record holding NaN is not equal to itself
    assert repr(scanned_lines(path)) == repr([entry for _, entry in text_reading(path)])


@pytest.mark.parametrize(
    "hostile",
    [
        "float hashed as orjson writes it",
        "integral float",
        "integer beyond 2**53",
        "integer beyond 2**64",
        "NaN",
        "lone surrogate",
        "lone surrogate in a key",
        "record nested five levels",
        "100000 levels in the record",
        "100000 levels as the anchor",
        "100000 levels in another member",
        "astral keys, sorted by code point",
        "record tampered",
        "anchor nested",
        "another member",
        "index twice, the last out of range",
        "index a boolean",
        "size a float",
        "path hash with a space",
        "two bundles on a line",
        "blank",
    ],
)
def test_a_chunk_with_such_a_line_is_left_to_the_rule(hostile: str) -> None:
    _, made = lines_with(hostile)
    assert _vouched(1, made[:3], keep_record=False) is not None  # ordinary lines
    assert _vouched(1, made[:4], keep_record=False) is None


@pytest.mark.parametrize(
    "hostile",
    ["non-ASCII key", "astral keys, sorted by UTF-16", "record left out", "anchor left out"],
)
def test_ordinary_lines_of_other_shapes_are_vouched_for(hostile: str) -> None:
    """Their canonical form (the UTF-16 key order included) is canonical_bytes' own."""
    _, made = lines_with(hostile)
    runs = _vouched(1, made[:4], keep_record=True)
    assert runs is not None
    assert [e for _, run in runs for e in run.entries()][3] == scan_line(
        4, made[3], keep_record=True
    )


def test_the_decoder_reads_no_deeper_than_its_type() -> None:
    """A line nested 100000 deep, with the recursion limit web3's py_ecc sets: refused, no crash."""
    _, made = lines_with("100000 levels in the record")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        assert _vouched(1, [made[3]], keep_record=False) is None
        assert scan_line(4, made[3], keep_record=False) == 4
    finally:
        sys.setrecursionlimit(limit)


def test_an_ordinary_export_is_read_in_runs_one_per_batch(tmp_path: Path) -> None:
    _, all_bundles = bundles()
    path = tmp_path / "export.jsonl"
    path.write_text("".join(map(as_export, all_bundles)), encoding="utf-8")
    read = [lines for _, lines in scan(path, keep_record=False)]
    assert all(isinstance(lines, Run) for lines in read)
    assert [(run.first, len(run)) for run in read] == [(1, 5), (6, 8), (14, 1)]  # type: ignore[union-attr]


# -- the whole check against the reference, findings and passed records alike ------------

Edit = Callable[[list[dict[str, Any]], list[str], int], None]
#: Ways to spoil an export, each at a line; "hostile" ones are named from HOSTILE.
EDITS: dict[str, Edit] = {
    "drop": lambda b, lines, i: lines.__setitem__(i, ""),
    "duplicate": lambda b, lines, i: lines.insert(i, lines[i]),
    "duplicate elsewhere": lambda b, lines, i: lines.append(lines[i]),
    "swap with the next": lambda b, lines, i: lines.insert(i + 1, lines.pop(i)),
    "wrong path": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "audit_path": ["0x" + "00" * 32] * len(b[i]["audit_path"])})
    ),
    "another root": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "root": "0x" + "ab" * 32})
    ),
    "another size": lambda b, lines, i: lines.__setitem__(i, as_export({**b[i], "tree_size": 9})),
    "unknown batch": lambda b, lines, i: lines.__setitem__(
        i, as_export({**b[i], "batch_id": "0x" + "ee" * 32})
    ),
    "forged leaf": lambda b, lines, i: lines.__setitem__(
        i, as_export(with_record(b[i], {**b[i]["record"], "amount_due": "9.99"}))
    ),
    "erased": lambda b, lines, i: lines.__setitem__(
        i, as_export({k: v for k, v in b[i].items() if k != "record"})
    ),
    "ascii form": lambda b, lines, i: lines.__setitem__(i, as_ascii(b[i])),
}


def edit(name: str) -> Edit:
    if name in EDITS:
        return EDITS[name]
    return lambda b, lines, i: lines.__setitem__(i, HOSTILE[name](b[i]))


def stored(
    tmp_path: Path, state: ChainState, all_bundles: list[dict[str, Any]], skip: int
) -> Store:
    """A real store holding every leaf but one (and leaf 0 of the first batch another's)."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    by_batch: dict[str, list[StoredLeaf]] = {}
    for n, b in enumerate(all_bundles):
        leaf = bytes.fromhex(b["leaf_hash"][2:]) if n else bytes(32)
        if n != skip:
            by_batch.setdefault(b["batch_id"], []).append(
                StoredLeaf(b["batch_id"], b["leaf_index"], None, leaf, canonical_bytes(b["record"]))
            )
    with store.session() as s, s.begin():
        for batch_id, anchor in state.anchors.items():
            s.add(
                Batch(
                    batch_id=batch_id, kind=1, tree_size=anchor.tree_size, root=anchor.root,
                    manifest="{}", manifest_hash=anchor.manifest_hash, status="anchored",
                    created_at="2026-11-26T04:00:00Z",
                )
            )  # fmt: skip
        s.flush()
        for batch_id, rows in by_batch.items():
            leaves.add_leaves(s, batch_id, rows)
    return store


def passed(into: list[tuple[Any, ...]]) -> Callable[[ExportedLeaf], None]:
    return lambda item: into.append(
        (item.line, item.batch_id, item.leaf_index, item.leaf_hash, item.record)
    )


@settings(max_examples=80, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(sorted(EDITS) + sorted(HOSTILE)), st.integers(0, sum(SIZES) - 1)),
        max_size=4,
    ),
    chunk_chars=st.sampled_from([1, 2000, 1 << 20]),
    with_store=st.booleans(),
    skip=st.integers(0, sum(SIZES)),
)
# An unordered complete batch one of whose paths is wrong: whole, it passes its tree.
@example(
    edits=[("swap with the next", 1), ("wrong path", 3)],
    chunk_chars=1 << 20,
    with_store=False,
    skip=99,
)
# An erased line beside a record that hashes elsewhere, in one chunk.
@example(
    edits=[("erased", 6), ("record tampered", 8)], chunk_chars=1 << 20, with_store=True, skip=99
)
# A leaf seen twice within a run, and once more in a later batch.
@example(
    edits=[("duplicate", 2), ("duplicate elsewhere", 0)], chunk_chars=2000, with_store=True, skip=3
)
def test_findings_and_passed_records_are_the_line_by_line_checks(
    edits: list[tuple[str, int]],
    chunk_chars: int,
    with_store: bool,
    skip: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp_path = tmp_path_factory.mktemp("export")
    state, all_bundles = bundles()
    made = [as_export(b) for b in all_bundles]
    for name, at in edits:
        edit(name)(all_bundles, made, at)
    path = tmp_path / "export.jsonl"
    path.write_text("".join(made), encoding="utf-8")
    store = stored(tmp_path, state, all_bundles, skip) if with_store else None
    try:
        expected: list[tuple[Any, ...]] = []
        reference = reference_check(path, state, store, passed(expected))
        found: list[tuple[Any, ...]] = []
        report = AuditReport()
        with chunks_of(chunk_chars):
            check_records(path, state, store, report, sink=passed(found))
    finally:
        if store is not None:
            store.close()
    assert repr(report.to_json()) == repr(reference.to_json())
    assert repr(found) == repr(expected)


@contextmanager
def chunks_of(chars: int) -> Iterator[None]:
    """Chunks of ``chars`` characters (lines are read whole: 1 is a line at a time)."""
    saved = _export_runs.CHUNK_CHARS
    _export_runs.CHUNK_CHARS = chars
    try:
        yield
    finally:
        _export_runs.CHUNK_CHARS = saved
