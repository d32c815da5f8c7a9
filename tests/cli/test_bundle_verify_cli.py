"""Acceptance: a bundle from ``ledger bundle`` verifies with ``ledger verify``, and fails after
any one-byte change to its record or path.

The happy path, the ``--json`` / ``--offline`` forms, the anchor check against
forgeries whose math still holds, and a real JSON-RPC node run as real ``ledger``
processes. The exhaustive tampering runs in process (``ProofBundle.loads`` +
``verify_bundle`` + ``check_anchor``), with a handful of the same files handed
to the real ``ledger verify`` as well.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from ledger.chain import Chain, Deployment
from ledger.chain.attest import check_anchor
from ledger.errors import LedgerError
from ledger.proofs import (
    MerkleTree,
    ProofBundle,
    bundle_text,
    make_bundle,
    record_leaf_hash,
    verify_bundle,
)
from ledger.records import RecordRejected, validate_record
from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv
from tests.cli._cli import one_error_line, run, run_all
from tests.conftest import AnvilNode, copy_deployment

SEED = 41
ROWS = 20
BATCH = 13  # batches of 13 and 7; leaf 5 of 13 also verifies, by the math alone, at size 16
LEAF = 5
HEX = "0123456789abcdef"


# -- output ---------------------------------------------------------------------------


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


# -- one anchored data dir, shared -------------------------------------------------------


@dataclass
class Anchored:
    data_dir: Path
    base: Path
    deployment: Deployment
    report: dict[str, Any]
    bundle_path: Path  # leaf LEAF of the first batch, by record id
    by_leaf_hash: Path  # the same leaf, asked for by its leaf hash
    hash_only: str  # the same leaf, --hash-only, from stdout
    other_bundle_path: Path  # a leaf of the second batch
    bundle_stdout: str

    @property
    def text(self) -> str:
        return self.bundle_path.read_text(encoding="utf-8")

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.text)
        return loaded

    def copy_data_dir(self, name: str) -> Path:
        """A private copy: same chain, same registry, its own chain lock."""
        target = self.base / "copies" / name
        shutil.copytree(self.data_dir, target)
        return target


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Anchored:
    base = tmp_path_factory.mktemp("anchored")
    data_dir = copy_deployment(deployed_template, base / "data")  # what `ledger deploy` leaves
    rows = list(synthetic_rows(ROWS, seed=SEED))
    for row in rows:
        try:
            validate_record(row)
        except RecordRejected as exc:  # pragma: no cover - a broken generator
            pytest.fail(f"synthetic row is invalid: {exc}")
    path = base / "portfolio.csv"
    write_csv(rows, path)
    submitted = run(
        "submit", str(path), "--data-dir", str(data_dir), "--batch-size", str(BATCH), "--json"
    )
    assert submitted.returncode == 0, submitted.stderr
    report = json.loads(submitted.stdout)
    assert [b["tree_size"] for b in report["batches"]] == [BATCH, ROWS - BATCH]

    bundle_path, other_path = base / "leaf.bundle.json", base / "other.bundle.json"
    first, other = run_all(
        [
            ["bundle", f"RPT-{SEED}-{LEAF}", "-o", str(bundle_path), "--data-dir", str(data_dir)],
            [
                "bundle",
                f"RPT-{SEED}-{BATCH + 2}",
                "-o",
                str(other_path),
                "--data-dir",
                str(data_dir),
            ],
        ]
    )
    assert first.returncode == 0, first.stderr
    assert other.returncode == 0, other.stderr
    leaf_hash = json.loads(bundle_path.read_text())["leaf_hash"]
    by_leaf_hash = base / "by-leaf-hash.bundle.json"
    by_hash, hash_only = run_all(
        [
            ["bundle", leaf_hash, "-o", str(by_leaf_hash), "--data-dir", str(data_dir)],
            ["bundle", leaf_hash, "--hash-only", "--data-dir", str(data_dir)],
        ]
    )
    assert by_hash.returncode == 0, by_hash.stderr
    assert hash_only.returncode == 0, hash_only.stderr
    return Anchored(
        data_dir=data_dir,
        base=base,
        deployment=Deployment.load(data_dir / "deployment.json"),
        report=report,
        bundle_path=bundle_path,
        by_leaf_hash=by_leaf_hash,
        hash_only=hash_only.stdout,
        other_bundle_path=other_path,
        bundle_stdout=first.stdout,
    )


# -- the happy path ----------------------------------------------------------------------


def test_bundle_by_record_id_and_by_leaf_hash_is_the_anchored_leaf(anchored: Anchored) -> None:
    data = anchored.data
    batch = anchored.report["batches"][0]
    record = data["record"]
    assert data["format"] == "credit-anchor/proof-bundle/v1"
    assert data["hash_alg"] == "sha256-rfc6962"
    assert record["record_id"] == f"RPT-{SEED}-{LEAF}"
    assert re.fullmatch(r"0x[0-9a-f]{64}", record["salt"])
    assert not {"subject_name", "subject_id_number", "subject_mobile", "account_id"} & set(record)
    # the leaf hash, recomputed with an independent RFC 8785 implementation
    leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(record)).hexdigest()
    assert data["leaf_hash"] == "0x" + leaf
    assert (data["leaf_index"], data["tree_size"]) == (LEAF, BATCH)
    assert len(data["audit_path"]) == 4
    assert (data["root"], data["batch_id"]) == (batch["root"], batch["batch_id"])
    assert data["anchor"]["tx_hash"] == batch["tx_hash"]
    assert data["anchor"]["block_number"] == batch["block_number"]
    assert data["anchor"]["chain_id"] == anchored.deployment.chain_id
    assert data["anchor"]["registry"] == anchored.deployment.anchor_registry.lower()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["anchor"]["block_timestamp"])
    assert stat.S_IMODE(anchored.bundle_path.stat().st_mode) == 0o600
    assert str(anchored.bundle_path.name) in flat(anchored.bundle_stdout)

    assert json.loads(anchored.by_leaf_hash.read_text()) == data
    hash_only = json.loads(anchored.hash_only)
    assert "record" not in hash_only
    assert hash_only == {k: v for k, v in data.items() if k != "record"}

    done = run("verify", str(anchored.bundle_path), "--data-dir", str(anchored.data_dir))
    assert done.returncode == 0, done.stderr
    out = flat(done.stdout)
    assert out.startswith("VALID:")
    assert f"leaf {LEAF} of {BATCH}" in out
    assert f"block {batch['block_number']}" in out


def test_verify_json_reports_the_bundle_it_checked(anchored: Anchored) -> None:
    data = anchored.data
    done = run("verify", str(anchored.bundle_path), "--data-dir", str(anchored.data_dir), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "valid": True,
        "anchor_checked": True,
        "transaction_checked": True,
        "leaf_hash": data["leaf_hash"],
        "leaf_index": data["leaf_index"],
        "tree_size": data["tree_size"],
        "batch_id": data["batch_id"],
        "root": data["root"],
        "chain_id": data["anchor"]["chain_id"],
        "block_number": data["anchor"]["block_number"],
    }


def test_offline_checks_the_math_without_any_chain(anchored: Anchored, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-data-dir"
    other = tmp_path / "other-data-dir"
    bundle = str(anchored.bundle_path)
    unreachable = {"LEDGER_RPC_URL": "http://127.0.0.1:9"}
    offline_json, hash_only, online_elsewhere = run_all(
        [
            ["verify", bundle, "--offline", "--json", "--data-dir", str(nowhere)],
            ["verify", str(write(tmp_path / "h.json", anchored.hash_only)), "--offline"],
            ["verify", bundle, "--data-dir", str(other)],
        ],
        env=unreachable,
    )
    assert offline_json.returncode == 0, offline_json.stderr
    result = json.loads(offline_json.stdout)
    assert result["valid"] is True and result["anchor_checked"] is False
    assert result["leaf_hash"] == anchored.data["leaf_hash"]
    assert not nowhere.exists(), "--offline touched the data dir"
    assert hash_only.returncode == 0, hash_only.stderr
    assert "NOT checked" in flat(hash_only.stdout)
    # the same command without --offline does ask a chain (here: one that cannot answer)
    assert online_elsewhere.returncode == 1
    assert "127.0.0.1:9" in one_error_line(online_elsewhere)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- any one-character change to the record or the path --------------------------------


def other_char(c: str) -> str:
    """A different character of the same kind: the JSON stays valid, hex stays hex."""
    for alphabet in (HEX, "0123456789", "ghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if c in alphabet:
            return alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    swaps = {"-": "/", "/": "-", "_": "-", ":": ".", ".": ":", " ": "_"}
    return swaps.get(c, chr(ord(c) + 1))


def other_digit(digits: str, position: int) -> str:
    c = digits[position]
    new = "1" if c == "0" else "0"
    if position == 0 and new == "0" and len(digits) > 1:
        new = "2" if c == "1" else "1"
    return digits[:position] + new + digits[position + 1 :]


Mutation = tuple[str, dict[str, Any]]


def _record_mutations(
    value: Any, path: str, replace: Callable[[Any], dict[str, Any]]
) -> Iterator[Mutation]:
    """Every one-character change to every string, integer and key inside ``value``."""
    if isinstance(value, str):
        for i in range(len(value)):
            yield f"{path}[char {i}]", replace(value[:i] + other_char(value[i]) + value[i + 1 :])
    elif isinstance(value, bool) or value is None:
        yield f"{path}[flip]", replace(not value if value is not None else False)
    elif isinstance(value, int):
        digits = str(value)
        for i in range(len(digits)):
            yield f"{path}[digit {i}]", replace(int(other_digit(digits, i)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _record_mutations(
                item, f"{path}[{i}]", lambda new, i=i: replace([*value[:i], new, *value[i + 1 :]])
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _record_mutations(
                item, f"{path}.{key}", lambda new, key=key: replace({**value, key: new})
            )
            for i in range(len(key)):
                renamed = key[:i] + other_char(key[i]) + key[i + 1 :]
                if renamed in value:
                    continue
                moved = {(renamed if k == key else k): v for k, v in value.items()}
                yield f"{path}.{key}[key char {i}]", replace(moved)
    else:  # pragma: no cover - records hold JSON values only
        raise AssertionError(f"unexpected value at {path}: {value!r}")


def mutations(data: dict[str, Any]) -> Iterator[Mutation]:
    """The bundle with one character of its record or audit path changed, every way."""

    def with_record(record: Any) -> dict[str, Any]:
        return {**data, "record": record}

    yield from _record_mutations(data["record"], "$.record", with_record)
    for index, node in enumerate(data["audit_path"]):
        for i in range(2, len(node)):
            path = list(data["audit_path"])
            path[index] = node[:i] + other_char(node[i]) + node[i + 1 :]
            yield f"$.audit_path[{index}][char {i}]", {**data, "audit_path": path}


class LazyChain:
    """The embedded chain, opened only if a tampered bundle gets past the math."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.chain: Chain | None = None

    def check(self, bundle: ProofBundle) -> None:
        if self.chain is None:
            self.chain = Chain.embedded(self.data_dir, holder="pytest")
        check_anchor(self.chain, bundle)

    def close(self) -> None:
        if self.chain is not None:
            self.chain.close()


def verdict(text: str | bytes, chain: LazyChain, *, must_parse: bool = False) -> str:
    """ "refused" (a LedgerError), "ACCEPTED", or what else happened.

    With ``must_parse`` the change has to survive parsing, so that the refusal
    comes from the proof (or the anchor), not from the bundle's format.
    """
    try:
        bundle = ProofBundle.loads(text)
    except LedgerError as exc:
        return f"unparseable: {exc.message}" if must_parse else "refused"
    except Exception as exc:  # anything but a LedgerError is a bug too
        return f"crashed with {type(exc).__name__}: {exc}"[:200]
    try:
        verify_bundle(bundle)
        chain.check(bundle)
    except LedgerError:
        return "refused"
    except Exception as exc:
        return f"crashed with {type(exc).__name__}: {exc}"[:200]
    return "ACCEPTED"


def test_every_one_character_change_to_record_or_path_is_refused(anchored: Anchored) -> None:
    data = anchored.data
    chain = LazyChain(anchored.data_dir)
    try:
        assert verdict(anchored.text, chain) == "ACCEPTED"  # the untouched bundle is fine
        results = {
            where: verdict(
                json.dumps(changed, ensure_ascii=False, indent=2), chain, must_parse=True
            )
            for where, changed in mutations(data)
        }
    finally:
        chain.close()
    record_chars = sum(len(v) for v in data["record"].values() if isinstance(v, str))
    assert len(results) > record_chars + 4 * 64  # every char, digit, key char, path digit
    for node in range(len(data["audit_path"])):
        assert f"$.audit_path[{node}][char 65]" in results
    not_refused = {where: how for where, how in results.items() if how != "refused"}
    assert not not_refused, (
        f"{len(not_refused)} changes not refused: {list(not_refused.items())[:8]}"
    )


def byte_span(text: bytes, start_key: bytes, end_key: bytes) -> range:
    start = text.index(start_key)
    return range(start, text.index(end_key, start))


def test_every_one_byte_flip_in_record_or_path_is_refused(anchored: Anchored) -> None:
    raw = anchored.bundle_path.read_bytes()
    spans = [
        byte_span(raw, b'"record"', b'"leaf_hash"'),
        byte_span(raw, b'"audit_path"', b'"root"'),
    ]
    chain = LazyChain(anchored.data_dir)
    not_refused = []
    try:
        for span in spans:
            for position in span:
                for flip in (0x01, 0x20):
                    changed = bytearray(raw)
                    changed[position] ^= flip
                    how = verdict(bytes(changed), chain)
                    if how != "refused":
                        not_refused.append((position, flip, how))
    finally:
        chain.close()
    assert sum(len(span) for span in spans) > 1000
    assert not not_refused, f"byte flips not refused: {not_refused[:8]}"


def test_ledger_verify_refuses_tampered_files(anchored: Anchored) -> None:
    data = anchored.data
    record = data["record"]
    pick = {
        "salt": lambda d: {
            **d,
            "record": {**record, "salt": other_char_at(record["salt"], len(record["salt"]) - 1)},
        },
        "record key": lambda d: {
            **d,
            "record": {("balancf" if k == "balance" else k): v for k, v in record.items()},
        },
        "last path node": lambda d: {
            **d,
            "audit_path": [*d["audit_path"][:-1], other_char_at(d["audit_path"][-1], 65)],
        },
    }
    commands = []
    for name, change in pick.items():
        changed = change(copy.deepcopy(data))
        assert changed != data, name
        path = write(anchored.base / f"tampered-{name.replace(' ', '-')}.json", json.dumps(changed))
        commands.append(["verify", str(path), "--data-dir", str(anchored.copy_data_dir(name))])
    for name, done in zip(pick, run_all(commands), strict=True):
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        line = one_error_line(done)
        assert "in use" not in line, (name, line)
        assert "VALID" not in done.stdout, name


def other_char_at(text: str, i: int) -> str:
    return text[:i] + other_char(text[i]) + text[i + 1 :]


# -- forgeries whose math holds: only the anchor check can refuse them ----------------


def alternative_sizes(bundle: ProofBundle) -> list[int]:
    """Tree sizes other than the real one for which the math alone still verifies."""
    found = []
    for size in range(bundle.leaf_index + 1, 4 * bundle.tree_size):
        if size == bundle.tree_size:
            continue
        try:
            verify_bundle(dataclasses.replace(bundle, tree_size=size))
        except LedgerError:
            continue
        found.append(size)
    return found


def forgeries(anchored: Anchored) -> dict[str, ProofBundle]:
    real = ProofBundle.loads(anchored.text)
    other = ProofBundle.loads(anchored.other_bundle_path.read_text())
    assert real.record is not None
    # a tree that was never anchored: the real leaf's neighbours, re-salted
    fakes = [
        {
            **real.record,
            "record_id": f"FORGED-{i}",
            "salt": "0x" + hashlib.sha256(b"%d" % i).hexdigest(),
        }
        for i in range(BATCH)
    ]
    fake_tree = MerkleTree([record_leaf_hash(r) for r in fakes])
    never = hashlib.sha256(b"a batch that was never anchored").digest()
    sizes = alternative_sizes(real)
    assert sizes, "no other tree size verifies by the math alone: pick another leaf"
    anchor = real.anchor
    consent = bytes.fromhex(anchored.deployment.consent_registry.removeprefix("0x"))
    return {
        "made-up tree, real batch id": make_bundle(
            fakes[LEAF], LEAF, fake_tree, real.batch_id, anchor
        ),
        "made-up tree, made-up batch id": make_bundle(fakes[LEAF], LEAF, fake_tree, never, anchor),
        f"tree size {sizes[0]}": dataclasses.replace(real, tree_size=sizes[0]),
        "another anchored batch's id": dataclasses.replace(real, batch_id=other.batch_id),
        "block number": dataclasses.replace(
            real, anchor=dataclasses.replace(anchor, block_number=anchor.block_number + 1)
        ),
        "chain id": dataclasses.replace(
            real, anchor=dataclasses.replace(anchor, chain_id=anchor.chain_id + 1)
        ),
        "registry: the ConsentRegistry": dataclasses.replace(
            real, anchor=dataclasses.replace(anchor, registry=consent)
        ),
        "registry: no contract": dataclasses.replace(
            real, anchor=dataclasses.replace(anchor, registry=b"\x42" * 20)
        ),
    }


#: The forgeries also handed to the real ``ledger verify`` (the rest are checked in process).
VIA_CLI = ("made-up tree, real batch id", "tree size", "block number")


def test_anchor_check_refuses_forgeries_whose_math_holds(anchored: Anchored) -> None:
    cases = forgeries(anchored)
    for bundle in cases.values():
        verify_bundle(bundle)  # the math holds: refusing it is the chain's job
    accepted = []
    with Chain.embedded(anchored.copy_data_dir("in-process"), holder="pytest") as chain:
        check_anchor(chain, ProofBundle.loads(anchored.text))  # the real one passes
        for name, bundle in cases.items():
            try:
                check_anchor(chain, bundle)
            except LedgerError:
                continue
            accepted.append(name)
    assert not accepted, f"the anchor check accepted forgeries: {accepted}"

    chosen = [name for name in cases if name.startswith(VIA_CLI)]
    assert len(chosen) == len(VIA_CLI)
    commands = []
    for n, name in enumerate(chosen):
        path = write(anchored.base / f"forged-{n}.json", bundle_text(cases[name]))
        commands.append(["verify", str(path), "--data-dir", str(anchored.copy_data_dir(f"f{n}"))])
    offline = ["verify", commands[0][1], "--offline", "--json"]
    *online, offline_done = run_all([*commands, offline])
    for name, done in zip(chosen, online, strict=True):
        assert done.returncode == 1, f"{name}: exit {done.returncode}\n{done.stdout}"
        line = one_error_line(done)
        assert "in use" not in line, (name, line)
    assert offline_done.returncode == 0, offline_done.stderr
    assert json.loads(offline_done.stdout)["anchor_checked"] is False


def test_backdated_block_timestamp_is_refused_by_the_anchor_check(anchored: Anchored) -> None:
    """The registry stores each anchor's block timestamp; a bundle must not claim another.

    A bundle's ``anchor.block_timestamp`` is when the data is proven to have existed:
    a forged, earlier time must not pass ``ledger verify`` as VALID.
    """
    real = ProofBundle.loads(anchored.text)
    earlier = dataclasses.replace(
        real,
        anchor=dataclasses.replace(
            real.anchor, block_timestamp=real.anchor.block_timestamp - timedelta(days=400)
        ),
    )
    verify_bundle(earlier)
    path = write(anchored.base / "backdated.json", bundle_text(earlier))
    done = run("verify", str(path), "--data-dir", str(anchored.copy_data_dir("backdated")))
    assert done.returncode == 1, (
        "a bundle whose anchor.block_timestamp was moved 400 days earlier verifies as "
        f"valid:\n{flat(done.stdout)}"
    )
    one_error_line(done)


# -- errors and help --------------------------------------------------------------------


def test_bundle_of_an_unknown_id_is_one_error_line(anchored: Anchored, tmp_path: Path) -> None:
    target = tmp_path / "unknown.bundle.json"
    unknown_id, unknown_hash, not_unicode = run_all(
        [
            ["bundle", "RPT-NO-SUCH-ROW", "-o", str(target), "--data-dir", str(anchored.data_dir)],
            ["bundle", "0x" + "ab" * 32, "--data-dir", str(anchored.data_dir)],
            # `ledger bundle $'RPT-\xff'`: the argument arrives as a lone surrogate (issue 17).
            ["bundle", "RPT-\udcff", "--data-dir", str(anchored.data_dir)],
        ]
    )
    for done in (unknown_id, unknown_hash, not_unicode):
        line = one_error_line(done)
        assert "no record or leaf" in line
        assert done.stdout == ""
    assert not target.exists()


def test_bundle_and_verify_help_have_an_example() -> None:
    for name, done in zip(
        ("bundle", "verify"), run_all([["bundle", "--help"], ["verify", "--help"]]), strict=True
    ):
        assert done.returncode == 0, done.stderr
        assert re.search(rf"Example:\s+ledger {name} \S+", done.stdout), done.stdout


# -- a real JSON-RPC node ---------------------------------------------------------------


@pytest.mark.rpc
def test_bundle_from_a_json_rpc_node_verifies_there_and_nowhere_else(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    data_dir, elsewhere = tmp_path / "rpc-data", tmp_path / "embedded-elsewhere"
    rows = list(synthetic_rows(9, seed=43))
    path = tmp_path / "portfolio.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    init = run("init", "--data-dir", str(data_dir), "--json")
    assert init.returncode == 0, init.stderr
    anvil.fund(json.loads(init.stdout)["account"])
    rpc = ("--rpc", anvil.url, "--data-dir", str(data_dir))
    deployed = run("deploy", *rpc, "--json")
    assert deployed.returncode == 0, deployed.stderr
    manifest = json.loads(deployed.stdout)
    submitted = run("submit", str(path), *rpc, "--json")
    assert submitted.returncode == 0, submitted.stderr
    report = json.loads(submitted.stdout)
    assert report["accepted"] == len(rows) and len(report["batches"]) == 1
    bundle_path = tmp_path / "rpc.bundle.json"
    bundled = run(
        "bundle", f"RPT-43-{len(rows) - 1}", "-o", str(bundle_path), "--data-dir", str(data_dir)
    )
    assert bundled.returncode == 0, bundled.stderr
    data = json.loads(bundle_path.read_text())
    assert data["anchor"]["chain_id"] == manifest["chain_id"] == 31337
    assert data["root"] == report["batches"][0]["root"]

    there, other_chain = run_all(
        [
            ["verify", str(bundle_path), *rpc, "--json"],
            ["verify", str(bundle_path), "--data-dir", str(elsewhere)],
        ]
    )
    assert there.returncode == 0, there.stderr
    result = json.loads(there.stdout)
    assert result["valid"] is True and result["anchor_checked"] is True
    assert result["chain_id"] == 31337
    line = one_error_line(other_chain)
    assert other_chain.returncode == 1
    assert "chain 31337" in line
