"""``ledger bundle`` and ``ledger verify``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ledger.anchoring.bundles import bundle_for
from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    RpcOpt,
    command,
    console,
    print_json,
    settings_for,
)
from ledger.errors import InputError
from ledger.proofs import ProofBundle, bundle_text, verify_bundle
from ledger.store import Store


@command
def bundle(
    key: Annotated[
        str, typer.Argument(help="Leaf hash (0x…) or record id.", metavar="LEAF_OR_RECORD_ID")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the bundle here.")
    ] = None,
    hash_only: Annotated[
        bool, typer.Option("--hash-only", help="Leave the record out (leaf hash only).")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the proof bundle of one anchored record (stdout without -o).

    Example: ledger bundle R-000017 -o R-000017.bundle.json
    """
    settings = settings_for(data_dir)
    store = Store.for_settings(settings)
    try:
        result = bundle_for(store, key, with_record=not hash_only)
    finally:
        store.close()
    text = bundle_text(result) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    os.chmod(output, 0o600)
    console.print(f"wrote {output} (leaf {result.leaf_index} of batch 0x{result.batch_id.hex()})")


@command
def verify(
    bundle_file: Annotated[Path, typer.Argument(help="A proof bundle (JSON).", metavar="BUNDLE")],
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Check the math only: neither the anchor nor its transaction."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify a proof bundle: the math offline, then its anchor on chain.

    On chain: the registry's record of the batch (one eth_call) and the bundle's
    transaction (its receipt and block: it must have anchored this batch there).
    --offline checks neither. Needs no store: a partner bank runs it with --rpc
    against its own node. Exit 0 when valid, 1 when not.

    Example: ledger verify R-000017.bundle.json --rpc http://127.0.0.1:8545
    """
    try:
        raw = bundle_file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {bundle_file}: {exc.strerror}") from None
    parsed = ProofBundle.loads(raw)
    verify_bundle(parsed)
    anchored = None
    if not offline:
        settings = settings_for(data_dir, rpc)
        from ledger.chain import open_chain  # loaded only when the anchor is checked
        from ledger.chain.attest import check_anchor

        with open_chain(settings, holder="ledger verify", read_only=True) as chain:
            anchored = check_anchor(chain, parsed)
    result = {
        "valid": True,
        "anchor_checked": anchored is not None,
        "transaction_checked": anchored is not None,
        "leaf_hash": "0x" + parsed.leaf_hash.hex(),
        "leaf_index": parsed.leaf_index,
        "tree_size": parsed.tree_size,
        "batch_id": "0x" + parsed.batch_id.hex(),
        "root": "0x" + parsed.root.hex(),
        "chain_id": parsed.anchor.chain_id,
        "block_number": parsed.anchor.block_number,
    }
    if as_json:
        print_json(result)
        return
    where = (
        f"anchored in block {parsed.anchor.block_number} on chain {parsed.anchor.chain_id} "
        f"by transaction 0x{parsed.anchor.tx_hash.hex()}"
        if anchored
        else "anchor and its transaction NOT checked (--offline)"
    )
    console.print(
        f"VALID: leaf {parsed.leaf_index} of {parsed.tree_size} in batch "
        f"0x{parsed.batch_id.hex()}, {where}"
    )
