"""Export lines to read: real bundles of three small batches, and hostile lines made from them.

The bundles are ``make_bundle``'s, written as ``ledger export`` writes them and as the
benchmark does (ASCII-escaped); the chain's state is built from their trees, so no
chain is needed to judge them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.audit._export_lines import MAX_LINE
from ledger.audit.replay import ChainAnchor, ChainState, hx
from ledger.proofs import (
    AnchorAttestation,
    MerkleTree,
    ProofBundle,
    leaf_hash,
    make_bundle,
    record_leaf_hash,
)

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


def bundle_of(data: dict[str, Any]) -> ProofBundle:
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
