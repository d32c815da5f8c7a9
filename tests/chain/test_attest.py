"""``check_anchor``: a bundle's ``anchor.tx_hash`` must be the transaction that anchored it.

Finding 4 of issue 17: only the registry's record was checked, so a bundle naming
any other transaction verified. Against the embedded chain and a real anvil node.
"""

from __future__ import annotations

from pathlib import Path

from ledger.chain import Chain
from ledger.chain.attest import AnchorMismatchError, check_anchor
from tests._anchor_block import anchor_block


def test_a_bundle_naming_another_transaction_is_refused(any_chain: Chain, data_dir: Path) -> None:
    block = anchor_block(any_chain, data_dir)
    record = check_anchor(any_chain, block.genuine)  # the genuine bundle still verifies
    assert record.block_number == block.genuine.anchor.block_number
    wrong = {}
    for name, (bundle, reason) in block.forged.items():
        try:
            check_anchor(any_chain, bundle)
        except AnchorMismatchError as exc:
            if reason not in exc.message or "0x" + bundle.anchor.tx_hash.hex() not in exc.message:
                wrong[name] = f"refused for another reason: {exc.message}"
            continue
        wrong[name] = "ACCEPTED"
    assert not wrong, wrong
