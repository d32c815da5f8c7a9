"""Proof bundles: the fixed v1 JSON format, strict parsing, building and offline verification."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.errors import InputError, IntegrityError
from ledger.proofs import (
    BUNDLE_FORMAT,
    HASH_ALG,
    MAX_BUNDLE_BYTES,
    AnchorAttestation,
    BundleFormatError,
    InclusionProofError,
    MerkleTree,
    ProofBundle,
    RecordMismatchError,
    RootMismatchError,
    bundle_text,
    make_bundle,
    record_leaf_hash,
    verify_bundle,
)

# The member names and their order, as DESIGN.md "Formats (fixed)" writes them.
DESIGN_KEYS = [
    "format", "hash_alg", "record", "leaf_hash", "leaf_index", "tree_size",
    "audit_path", "root", "batch_id", "anchor",
]  # fmt: skip
DESIGN_ANCHOR_KEYS = ["chain_id", "registry", "tx_hash", "block_number", "block_timestamp"]

ANCHOR = AnchorAttestation(
    chain_id=1337,
    registry=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
    tx_hash=hashlib.sha256(b"tx").digest(),
    block_number=42,
    block_timestamp=datetime(2026, 11, 26, 4, 0, 0, tzinfo=UTC),
)
BATCH_ID = hashlib.sha256(b"batch 1").digest()


def h(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


def salted_record(i: int) -> dict[str, object]:
    return {
        "record_id": f"R{i}",
        "salt": h(f"salt {i}"),
        "balance": f"{i * 7}.00",
        "subject_pseudonym": h(f"subject {i % 3}"),
        "region": "广东省",
        "term_months": 12 + i,
        "written_off": False,
        "collateral": None,
    }


RECORDS = [salted_record(i) for i in range(13)]
TREE = MerkleTree(record_leaf_hash(r) for r in RECORDS)


def sample(index: int = 5, *, record: bool = True) -> ProofBundle:
    if record:
        return make_bundle(RECORDS[index], index, TREE, BATCH_ID, ANCHOR)
    return make_bundle(
        None, index, TREE, BATCH_ID, ANCHOR, leaf_hash=record_leaf_hash(RECORDS[index])
    )


# -- format ---------------------------------------------------------------------------


def test_to_json_uses_design_names_in_design_order() -> None:
    data = sample().to_json()
    assert list(data) == DESIGN_KEYS
    assert list(data["anchor"]) == DESIGN_ANCHOR_KEYS  # type: ignore[call-overload]
    assert data["format"] == "credit-anchor/proof-bundle/v1" == BUNDLE_FORMAT
    assert data["hash_alg"] == "sha256-rfc6962" == HASH_ALG


def test_record_is_absent_when_only_a_hash_was_asked() -> None:
    data = sample(record=False).to_json()
    assert list(data) == [k for k in DESIGN_KEYS if k != "record"]


def test_json_values_are_as_design_writes_them() -> None:
    data = sample().to_json()
    assert data["leaf_hash"] == "0x" + record_leaf_hash(RECORDS[5]).hex()
    assert (data["leaf_index"], data["tree_size"]) == (5, 13)
    assert data["audit_path"] == ["0x" + n.hex() for n in TREE.inclusion_proof(5)]
    assert data["root"] == "0x" + TREE.root.hex()
    assert data["batch_id"] == "0x" + BATCH_ID.hex()
    assert data["record"] == RECORDS[5]
    assert data["anchor"] == {
        "chain_id": 1337,
        "registry": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        "tx_hash": "0x" + hashlib.sha256(b"tx").hexdigest(),
        "block_number": 42,
        "block_timestamp": "2026-11-26T04:00:00Z",
    }


@pytest.mark.parametrize("record", [True, False])
def test_round_trips(record: bool) -> None:
    bundle = sample(record=record)
    assert ProofBundle.from_json(bundle.to_json()) == bundle
    assert ProofBundle.loads(bundle_text(bundle)) == bundle
    assert ProofBundle.loads(bundle_text(bundle).encode()) == bundle
    assert ProofBundle.from_json(json.loads(json.dumps(bundle.to_json()))) == bundle


def test_dumps_keeps_chinese_raw() -> None:
    assert "广东省" in bundle_text(sample())


def test_parses_the_design_example_shape() -> None:
    text = json.dumps(
        {
            "format": "credit-anchor/proof-bundle/v1",
            "hash_alg": "sha256-rfc6962",
            "record": {"record_id": "R1", "salt": h("s")},
            "leaf_hash": h("leaf"),
            "leaf_index": 17,
            "tree_size": 1000,
            "audit_path": [h(str(i)) for i in range(10)],
            "root": h("root"),
            "batch_id": h("batch"),
            "anchor": {
                "chain_id": 1337,
                "registry": "0x" + "ab" * 20,
                "tx_hash": h("tx"),
                "block_number": 42,
                "block_timestamp": "2026-11-26T04:00:00Z",
            },
        }
    )
    bundle = ProofBundle.loads(text)
    assert (bundle.leaf_index, bundle.tree_size, len(bundle.audit_path)) == (17, 1000, 10)
    assert bundle.anchor.block_timestamp == datetime(2026, 11, 26, 4, tzinfo=UTC)


def test_bundle_keeps_its_own_copy_of_the_record() -> None:
    record = salted_record(5)
    bundle = make_bundle(record, 5, TREE, BATCH_ID, ANCHOR)
    record["balance"] = "0.00"
    out = bundle.to_json()
    out["record"]["balance"] = "1.00"  # type: ignore[index]
    verify_bundle(bundle)
    assert bundle.record == RECORDS[5]


def test_record_stays_out_of_repr() -> None:
    assert "广东省" not in repr(sample())
    assert "R5" not in repr(sample())


def test_timestamps_are_kept_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    anchor = AnchorAttestation(
        chain_id=1,
        registry=bytes(20),
        tx_hash=bytes(32),
        block_number=0,
        block_timestamp=datetime(2026, 11, 26, 12, tzinfo=beijing),
    )
    assert anchor.to_json()["block_timestamp"] == "2026-11-26T04:00:00Z"


# -- strict parsing -------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def setting(*keys: str | int, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return data

    return mutate


def dropping(*keys: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> object:
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return data

    return mutate


GOOD_HASH = h("x")
REFUSALS: list[tuple[str, Mutation, str]] = [
    ("not an object", lambda d: [d], "$"),
    ("a string", lambda d: json.dumps(d), "$"),
    *[(f"no {key}", dropping(key), f"$.{key}") for key in DESIGN_KEYS if key != "record"],
    ("unknown member", setting("signature", value="x"), "$.signature"),
    ("unknown odd member", setting("a b", value=1), "$.*"),
    ("format v2", setting("format", value="credit-anchor/proof-bundle/v2"), "$.format"),
    ("format case", setting("format", value="Credit-Anchor/proof-bundle/v1"), "$.format"),
    ("hash_alg", setting("hash_alg", value="sha256"), "$.hash_alg"),
    ("record null", setting("record", value=None), "$.record"),
    ("record list", setting("record", value=[1]), "$.record"),
    ("record float", setting("record", "balance", value=12.5), "$.record.balance"),
    (
        "record nested float",
        setting("record", "funders", value=[{"share_bp": 0.5}]),
        "$.record.funders[0].share_bp",
    ),
    ("record big int", setting("record", "n", value=2**60), "$.record.n"),
    ("record surrogate", setting("record", "s", value="\ud800"), "$.record.s"),
    (
        "hash upper case",
        setting("leaf_hash", value=GOOD_HASH.upper().replace("0X", "0x")),
        "$.leaf_hash",
    ),
    ("hash without 0x", setting("leaf_hash", value=GOOD_HASH[2:]), "$.leaf_hash"),
    ("hash 0X", setting("leaf_hash", value="0X" + GOOD_HASH[2:]), "$.leaf_hash"),
    ("hash short", setting("leaf_hash", value=GOOD_HASH[:-2]), "$.leaf_hash"),
    ("hash long", setting("leaf_hash", value=GOOD_HASH + "00"), "$.leaf_hash"),
    ("hash odd", setting("leaf_hash", value=GOOD_HASH[:-1]), "$.leaf_hash"),
    ("hash not hex", setting("leaf_hash", value=GOOD_HASH[:-1] + "g"), "$.leaf_hash"),
    ("hash full-width", setting("leaf_hash", value=GOOD_HASH[:-1] + "\uff11"), "$.leaf_hash"),
    ("hash as int", setting("leaf_hash", value=7), "$.leaf_hash"),
    ("leaf_index negative", setting("leaf_index", value=-1), "$.leaf_index"),
    ("leaf_index bool", setting("leaf_index", value=True), "$.leaf_index"),
    ("leaf_index float", setting("leaf_index", value=5.0), "$.leaf_index"),
    ("leaf_index str", setting("leaf_index", value="5"), "$.leaf_index"),
    ("leaf_index = tree_size", setting("leaf_index", value=13), "$.leaf_index"),
    ("tree_size 0", setting("tree_size", value=0), "$.tree_size"),
    ("tree_size 2**64", setting("tree_size", value=2**64), "$.tree_size"),
    ("tree_size null", setting("tree_size", value=None), "$.tree_size"),
    ("audit_path object", setting("audit_path", value={}), "$.audit_path"),
    ("audit_path string", setting("audit_path", value=GOOD_HASH), "$.audit_path"),
    ("audit_path 65 long", setting("audit_path", value=[GOOD_HASH] * 65), "$.audit_path"),
    ("audit_path element", setting("audit_path", 1, value=GOOD_HASH[:-2]), "$.audit_path[1]"),
    ("root", setting("root", value=None), "$.root"),
    ("batch_id", setting("batch_id", value="0x" + "ab" * 20), "$.batch_id"),
    ("anchor list", setting("anchor", value=[]), "$.anchor"),
    *[(f"no anchor.{k}", dropping("anchor", k), f"$.anchor.{k}") for k in DESIGN_ANCHOR_KEYS],
    ("anchor extra", setting("anchor", "log_index", value=0), "$.anchor.log_index"),
    ("chain_id 0", setting("anchor", "chain_id", value=0), "$.anchor.chain_id"),
    ("chain_id 2**64", setting("anchor", "chain_id", value=2**64), "$.anchor.chain_id"),
    ("chain_id str", setting("anchor", "chain_id", value="1337"), "$.anchor.chain_id"),
    ("registry 32 bytes", setting("anchor", "registry", value=GOOD_HASH), "$.anchor.registry"),
    (
        "registry EIP-55 case",
        setting("anchor", "registry", value="0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        "$.anchor.registry",
    ),
    ("tx_hash", setting("anchor", "tx_hash", value="0x"), "$.anchor.tx_hash"),
    ("block_number -1", setting("anchor", "block_number", value=-1), "$.anchor.block_number"),
    *[
        (
            f"timestamp {text!r}",
            setting("anchor", "block_timestamp", value=text),
            "$.anchor.block_timestamp",
        )
        for text in [
            "2026-11-26T04:00:00+00:00",
            "2026-11-26T04:00:00.5Z",
            "2026-11-26 04:00:00Z",
            "2026-11-26T04:00:00z",
            "2026-11-26T04:00Z",
            "2026-02-30T04:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T04:00:60Z",
            "\uff12\uff10\uff12\uff16-11-26T04:00:00Z",  # full-width digits
            "2026-11-26T04:00:00Z\n",
            1764129600,
        ]
    ],
]


@pytest.mark.parametrize(
    ("mutate", "path"), [(m, p) for _, m, p in REFUSALS], ids=[i for i, _, _ in REFUSALS]
)
def test_from_json_refusals_name_the_path(mutate: Mutation, path: str) -> None:
    data = json.loads(json.dumps(sample().to_json()))
    with pytest.raises(BundleFormatError) as err:
        ProofBundle.from_json(mutate(data))
    assert err.value.path == path
    assert str(err.value).startswith(path + ": ")
    assert isinstance(err.value, InputError)
    assert err.value.code == "bundle-malformed"


def test_refusals_never_show_record_values() -> None:
    data = json.loads(json.dumps(sample().to_json()))
    data["record"]["phone"] = 13800138000.25
    with pytest.raises(BundleFormatError) as err:
        ProofBundle.from_json(data)
    assert err.value.path == "$.record.phone"
    assert "13800138000" not in err.value.diagnostics()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"\xff{}", "not UTF-8"),
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": 1, "a": 2}', "same member twice"),
        ('{"record": {"salt": "1", "salt": "2"}}', "same member twice"),
        ('{"tree_size": NaN}', "NaN"),
        ('{"tree_size": -Infinity}', "-Infinity"),
        # The chain stack raises the recursion limit to 100000 (see tests/conftest.py
        # imports), where this nesting would crash the C parser, not raise.
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 65 levels"),
        ('{"record": ' + "[" * 65 + "]" * 65 + "}", "nests deeper than 65 levels"),
        ('{"tree_size": ' + "9" * 5000 + "}", "not valid JSON"),
        (" " * (MAX_BUNDLE_BYTES + 1), f"larger than {MAX_BUNDLE_BYTES} bytes"),
        (b" " * (MAX_BUNDLE_BYTES + 1), f"larger than {MAX_BUNDLE_BYTES} bytes"),
        ("中" * (MAX_BUNDLE_BYTES // 3 + 1), f"larger than {MAX_BUNDLE_BYTES} bytes"),
        (None, "str or bytes"),
    ],
)
def test_loads_refusals(text: str | bytes, reason: str) -> None:
    with pytest.raises(BundleFormatError) as err:
        ProofBundle.loads(text)
    assert err.value.path == "$"
    assert reason in err.value.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    data = sample().to_json()
    data["record"]["note"] = "[{" * 200 + '\\"]' * 100  # type: ignore[index]
    data["leaf_hash"] = "0x" + record_leaf_hash(data["record"]).hex()  # type: ignore[arg-type]
    assert ProofBundle.loads(json.dumps(data)).record == data["record"]


def test_record_nesting_limit_meets_the_parser_limit() -> None:
    deep: object = "leaf"
    for _ in range(63):  # the record object plus 63 lists: 64 levels, the canonical limit
        deep = [deep]
    data = sample().to_json()
    data["record"]["deep"] = deep  # type: ignore[index]
    data["leaf_hash"] = "0x" + record_leaf_hash(data["record"]).hex()  # type: ignore[arg-type]
    assert ProofBundle.loads(json.dumps(data)).record == data["record"]
    data["record"]["deep"] = [deep]  # type: ignore[index]
    with pytest.raises(BundleFormatError) as err:
        ProofBundle.loads(json.dumps(data))
    assert err.value.path == "$"


def test_loads_accepts_a_bundle_at_the_size_limit() -> None:
    text = bundle_text(sample())
    padded = text + " " * (MAX_BUNDLE_BYTES - len(text.encode()))
    assert ProofBundle.loads(padded) == sample()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"leaf_hash": b"short"}, "$.leaf_hash"),
        ({"leaf_hash": "0x" + "00" * 32}, "$.leaf_hash"),
        ({"audit_path": [bytes(32), bytes(31)]}, "$.audit_path[1]"),
        ({"audit_path": b"\x00" * 32}, "$.audit_path"),
        ({"audit_path": (bytes(32),) * 65}, "$.audit_path"),
        ({"leaf_index": 13}, "$.leaf_index"),
        ({"tree_size": 2**64}, "$.tree_size"),
        ({"record": ["not", "an", "object"]}, "$.record"),
        ({"record": {"balance": 1.5}}, "$.record.balance"),
        ({"anchor": ANCHOR.to_json()}, "$.anchor"),
    ],
)
def test_constructor_refusals(change: dict[str, object], path: str) -> None:
    fields: dict[str, Any] = {
        "record": RECORDS[5],
        "leaf_hash": record_leaf_hash(RECORDS[5]),
        "leaf_index": 5,
        "tree_size": 13,
        "audit_path": tuple(TREE.inclusion_proof(5)),
        "root": TREE.root,
        "batch_id": BATCH_ID,
        "anchor": ANCHOR,
    } | change
    with pytest.raises(BundleFormatError) as err:
        ProofBundle(**fields)
    assert err.value.path == path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"block_timestamp": datetime(2026, 11, 26, 4)}, "$.anchor.block_timestamp"),
        (
            {"block_timestamp": datetime(2026, 11, 26, 4, 0, 0, 5, tzinfo=UTC)},
            "$.anchor.block_timestamp",
        ),
        ({"block_timestamp": "2026-11-26T04:00:00Z"}, "$.anchor.block_timestamp"),
        ({"registry": bytes(32)}, "$.anchor.registry"),
        ({"tx_hash": "0x" + "00" * 32}, "$.anchor.tx_hash"),
        ({"chain_id": 0}, "$.anchor.chain_id"),
        ({"block_number": True}, "$.anchor.block_number"),
    ],
)
def test_anchor_constructor_refusals(change: dict[str, object], path: str) -> None:
    fields: dict[str, Any] = {
        "chain_id": 1,
        "registry": bytes(20),
        "tx_hash": bytes(32),
        "block_number": 1,
        "block_timestamp": datetime(2026, 11, 26, 4, tzinfo=UTC),
    } | change
    with pytest.raises(BundleFormatError) as err:
        AnchorAttestation(**fields)
    assert err.value.path == path


# -- building and verifying -----------------------------------------------------------


def test_make_bundle_from_inclusion_evidence() -> None:
    evidence = (TREE.inclusion_proof(5), TREE.size, TREE.root)
    assert make_bundle(RECORDS[5], 5, evidence, BATCH_ID, ANCHOR) == sample()


def test_make_bundle_without_a_record_needs_the_leaf_hash() -> None:
    with pytest.raises(BundleFormatError) as err:
        make_bundle(None, 5, TREE, BATCH_ID, ANCHOR)
    assert err.value.path == "$.leaf_hash"


def test_make_bundle_refuses_a_leaf_hash_that_is_not_the_records() -> None:
    wrong = record_leaf_hash(RECORDS[4])
    with pytest.raises(RecordMismatchError) as err:
        make_bundle(RECORDS[5], 5, TREE, BATCH_ID, ANCHOR, leaf_hash=wrong)
    assert err.value.expected_leaf_hash == wrong
    assert err.value.computed_leaf_hash == record_leaf_hash(RECORDS[5])


def test_make_bundle_refuses_a_leaf_that_is_not_in_the_tree() -> None:
    with pytest.raises(RootMismatchError):
        make_bundle(RECORDS[4], 5, TREE, BATCH_ID, ANCHOR)
    with pytest.raises(RootMismatchError):
        make_bundle(None, 5, TREE, BATCH_ID, ANCHOR, leaf_hash=record_leaf_hash(RECORDS[4]))


def test_make_bundle_names_record_problems_inside_the_record() -> None:
    with pytest.raises(BundleFormatError) as err:
        make_bundle({"balance": 1.5}, 0, TREE, BATCH_ID, ANCHOR)
    assert err.value.path == "$.record.balance"


def test_verify_refuses_a_changed_record_with_both_hashes() -> None:
    data = sample().to_json()
    data["record"]["balance"] = "35.01"  # type: ignore[index]
    bundle = ProofBundle.from_json(data)
    with pytest.raises(RecordMismatchError) as err:
        verify_bundle(bundle)
    assert err.value.expected_leaf_hash == record_leaf_hash(RECORDS[5])
    assert err.value.computed_leaf_hash == record_leaf_hash(data["record"])  # type: ignore[arg-type]
    assert isinstance(err.value, IntegrityError)
    assert "0x" + err.value.computed_leaf_hash.hex() in str(err.value)
    assert "35.01" not in err.value.diagnostics()


def test_verify_refuses_a_wrong_path_length() -> None:
    data = sample().to_json()
    data["audit_path"] = data["audit_path"][:-1]  # type: ignore[index]
    with pytest.raises(InclusionProofError):
        verify_bundle(ProofBundle.from_json(data))


def test_record_mismatch_pickles_with_its_data() -> None:
    error = RecordMismatchError(expected_leaf_hash=bytes(32), computed_leaf_hash=b"\x01" * 32)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes this test just made
    assert (copy.expected_leaf_hash, copy.computed_leaf_hash) == (bytes(32), b"\x01" * 32)
    assert str(copy) == str(error)


def test_bundle_format_error_pickles_with_its_data() -> None:
    error = BundleFormatError("is missing", path="$.root")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes this test just made
    assert (copy.path, copy.reason, str(copy)) == ("$.root", "is missing", "$.root: is missing")
