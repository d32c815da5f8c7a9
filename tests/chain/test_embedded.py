"""The embedded chain is durable, exclusive, and says who holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ledger.chain import Chain
from ledger.chain.embedded import CHAIN_DIR, ChainLock, EmbeddedChain
from ledger.chain.errors import ChainLockedError

HOLD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ledger.chain.embedded import EmbeddedChain
    chain = EmbeddedChain(Path(sys.argv[1]), holder=sys.argv[2])
    print("held", flush=True)
    sys.stdin.read()
    chain.close()
    """
)


def _hold_in_subprocess(data_dir: Path, holder: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(data_dir), holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_gets_a_clear_error(data_dir: Path) -> None:
    proc = _hold_in_subprocess(data_dir, "ledger submit")
    try:
        with pytest.raises(ChainLockedError) as info:
            EmbeddedChain(data_dir)
        assert "ledger submit" in info.value.message
        assert f"pid {proc.pid}" in info.value.message
    finally:
        proc.communicate("")
    EmbeddedChain(data_dir).close()  # released: opens again


def test_a_running_server_is_named_with_what_to_do(data_dir: Path) -> None:
    proc = _hold_in_subprocess(data_dir, "ledger serve on http://127.0.0.1:8000")
    try:
        with pytest.raises(ChainLockedError) as info:
            EmbeddedChain(data_dir)
        assert "ledger serve" in info.value.message
        assert info.value.hint is not None
        assert "API" in info.value.hint
        assert str(proc.pid) in info.value.hint
    finally:
        proc.communicate("")


def test_lock_is_exclusive_within_one_process_too(data_dir: Path) -> None:
    lock = ChainLock(data_dir / CHAIN_DIR, "first")
    try:
        with pytest.raises(ChainLockedError, match="first"):
            ChainLock(data_dir / CHAIN_DIR, "second")
    finally:
        lock.release()


def test_state_survives_a_restart(data_dir: Path) -> None:
    with Chain.embedded(data_dir) as chain:
        before = chain.block_number()
        balance = chain.w3.eth.get_balance(chain.account.address)
        assert balance > 0  # topped up from the genesis faucet
        head = chain.w3.eth.get_block("latest")["hash"]
    with Chain.embedded(data_dir) as chain:
        assert chain.block_number() == before
        assert chain.w3.eth.get_block("latest")["hash"] == head
        assert chain.w3.eth.get_balance(chain.account.address) == balance


def test_genesis_is_made_once(data_dir: Path) -> None:
    with Chain.embedded(data_dir) as chain:
        genesis = chain.w3.eth.get_block(0)["hash"]
    with Chain.embedded(data_dir) as chain:
        assert chain.w3.eth.get_block(0)["hash"] == genesis
