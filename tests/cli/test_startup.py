"""What a command loads before it runs: the chain stack only where the chain is used."""

from __future__ import annotations

import subprocess
import sys

#: web3, eth-account and py-evm take seconds to import (py_ecc precomputes at import).
HEAVY = ("web3", "eth_account", "eth_tester", "eth", "py_ecc", "uvicorn")


def test_the_submitting_process_loads_no_chain_stack() -> None:
    """The CLI and a submission's side import no web3, eth-account or py-evm (seconds)."""
    code = (
        "import sys\n"
        "import ledger.cli.main, ledger.ingest.session, ledger.chain, ledger.consent\n"
        "import ledger.audit, ledger.client\n"
        "from ledger.chain.signer import address_of\naddress_of(bytes(31) + b'\\x01')\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = "import ledger.chain as c, sys\nc.Chain, c.open_chain\nprint('web3' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"  # and they load when asked for
