"""The embedded chain: eth-tester's py-evm backend, made durable under the data dir.

The chain lives in ``<data dir>/chain/chain.sqlite`` (see :mod:`._sqlite_kv`) and
survives restarts: the deployment and every anchor made before are there after.
One process at a time may hold it; a second one gets :class:`ChainLockedError`
naming the holder (for ``ledger serve``, with what to do instead) and never
touches the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import (
    generate_genesis_state_for_keys,
    get_default_account_keys,
    get_default_genesis_params,
)
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from ledger.chain._sqlite_kv import SqliteKV
from ledger.chain.errors import ChainLockedError

CHAIN_DIR = "chain"
CHAIN_FILE = "chain.sqlite"
LOCK_FILE = "LOCK"


class ChainLock:
    """An exclusive ``flock`` on the chain dir, recording who holds it."""

    def __init__(self, chain_dir: Path, holder: str) -> None:
        self.path = chain_dir / LOCK_FILE
        chain_dir.mkdir(parents=True, exist_ok=True)
        fh: IO[str] = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            info = fh.read()
            fh.close()
            raise _locked_error(chain_dir, info) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "holder": holder, "since": int(time.time())}))
        fh.flush()
        self._fh: IO[str] | None = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.truncate(0)
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _locked_error(chain_dir: Path, info: str) -> ChainLockedError:
    try:
        holder: dict[str, Any] = json.loads(info)
    except ValueError:
        holder = {}
    who = holder.get("holder", "another process")
    pid = holder.get("pid", "?")
    if str(who).startswith("ledger serve"):
        hint = (
            f"Stop that server (kill {pid}) to use the CLI on this data dir, or send the "
            "request through its API instead."
        )
    else:
        hint = "Wait for it to finish, or stop it, then run this command again."
    return ChainLockedError(
        f"the embedded chain in {chain_dir} is in use by {who} (pid {pid})", hint=hint
    )


class DurablePyEVMBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester has no stubs
    """py-evm backend whose chain database is a :class:`SqliteKV` committed per block."""

    chain: Any

    def __init__(self, kv: SqliteKV) -> None:
        super().__init__()  # builds a throwaway in-memory chain; replaced below
        self._kv = kv
        chain_class: Any = type(self.chain)
        if kv.get_meta("genesis") is None:
            keys = get_default_account_keys()
            state = dict(generate_genesis_state_for_keys(keys))
            self.chain = chain_class.from_genesis(kv, get_default_genesis_params(), state)
            kv.set_meta("genesis", self.chain.get_canonical_head().hash.hex())
            kv.commit()
        else:
            self.chain = chain_class(kv)

    def mine_blocks(self, num_blocks: int = 1, coinbase: Any = None) -> tuple[bytes, ...]:
        kwargs = {} if coinbase is None else {"coinbase": coinbase}
        try:
            hashes: tuple[bytes, ...] = super().mine_blocks(num_blocks, **kwargs)
        except BaseException:
            self._kv.rollback()
            raise
        self._kv.commit()
        return hashes


class EmbeddedChain:
    """An open embedded chain: a Web3 over the durable backend, plus its lock."""

    def __init__(self, data_dir: Path, *, holder: str | None = None) -> None:
        chain_dir = data_dir / CHAIN_DIR
        self.lock = ChainLock(chain_dir, holder or _default_holder())
        try:
            self.kv = SqliteKV(chain_dir / CHAIN_FILE)
            self.backend = DurablePyEVMBackend(self.kv)
        except BaseException:
            self.lock.release()
            raise
        self.tester = EthereumTester(self.backend)
        self.w3 = Web3(EthereumTesterProvider(self.tester))

    @property
    def faucet_key(self) -> bytes:
        """Key of a pre-funded genesis account, used only to fund our own signer."""
        key: bytes = self.backend.account_keys[0].to_bytes()
        return key

    def close(self) -> None:
        self.kv.close()
        self.lock.release()


def _default_holder() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:2]] if sys.argv else ["python"]
    return " ".join(argv)
