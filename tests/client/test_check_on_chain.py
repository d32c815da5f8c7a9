"""``check_on_chain``: the client's chain check refuses a bundle naming another transaction.

Finding 4 of issue 17 (see :mod:`tests._anchor_block`); the same rule as ``ledger
verify``, :func:`ledger.chain.attest.check_anchor`, reached through the client.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.chain import Chain
from ledger.chain.attest import AnchorMismatchError
from ledger.client import check_on_chain
from tests._anchor_block import anchor_block


def test_check_on_chain_refuses_a_bundle_naming_another_transaction(
    embedded_chain: Chain, data_dir: Path
) -> None:
    block = anchor_block(embedded_chain, data_dir)
    check_on_chain(block.genuine, embedded_chain)
    for bundle, reason in block.forged.values():
        with pytest.raises(AnchorMismatchError, match=re.escape(reason)):
            check_on_chain(bundle, embedded_chain)
