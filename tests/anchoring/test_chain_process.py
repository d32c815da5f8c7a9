"""The chain helper process of ``ledger submit``: the same answers and errors as in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.anchoring.chain_process import ChainProcess, _error_from, _error_to
from ledger.anchoring.outbox import BatchAnchor, hx
from ledger.chain import Chain
from ledger.chain.errors import (
    BatchAlreadyAnchored,
    ChainLockedError,
    ChainUnavailableError,
    TransactionTimeoutError,
)
from ledger.chain.signer import load_account
from ledger.config import Settings
from ledger.errors import ConfigurationError, IntegrityError, LedgerError
from tests.conftest import wait_until


@pytest.fixture
def deployed_dir(data_dir: Path, deploy_copy: Callable[[Path], Path]) -> Path:
    return deploy_copy(data_dir)  # what `ledger deploy` leaves


def _spec(size: int = 10) -> BatchAnchor:
    return BatchAnchor(hx(os.urandom(32)), hx(os.urandom(32)), size, 1, hx(os.urandom(32)))


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("batch 0x01 is anchored with root 0x02", hint="run `ledger audit`"),
        TransactionTimeoutError("0x" + "ab" * 32, 12.5),
        BatchAlreadyAnchored(b"\x01" * 32),
        ChainLockedError("the embedded chain is in use by ledger serve (pid 7)"),
    ],
)
def test_an_error_crosses_as_its_own_class_with_its_message_and_fields(exc: LedgerError) -> None:
    import pickle

    back = _error_from(pickle.loads(pickle.dumps(_error_to(exc))))  # noqa: S301 - our own bytes
    assert type(back) is type(exc)
    assert back.message == exc.message and back.hint == exc.hint
    assert vars(back) == vars(exc)


def test_an_unexpected_error_crosses_as_unavailable_naming_its_type() -> None:
    back = _error_from(_error_to(KeyError("nonce")))
    assert isinstance(back, ChainUnavailableError)
    assert "KeyError" in back.message and "nonce" in back.message


def test_the_helper_anchors_as_the_registry_would_and_finds_what_it_anchored(
    deployed_dir: Path,
) -> None:
    with ChainProcess(Settings(data_dir=deployed_dir), holder="pytest helper") as helper:
        info = helper.ready()
        assert info.sender == load_account(deployed_dir).address.lower()
        spec = _spec()
        event, mined_at, resumed = helper.anchor(spec, fresh=True)
        assert (hx(event.batch_id), hx(event.root), event.tree_size) == (
            spec.batch_id, spec.root, spec.tree_size
        )  # fmt: skip
        assert not resumed and mined_at.endswith("Z")
        again, _, resumed = helper.anchor(spec, fresh=False)  # looked up, not sent again
        assert resumed and again.tx_hash == event.tx_hash
        other_root = BatchAnchor(spec.batch_id, hx(os.urandom(32)), 10, 1, spec.manifest_hash)
        with pytest.raises(IntegrityError, match="is anchored with root"):
            helper.anchor(other_root, fresh=False)
        # Sent as fresh: the registry refuses the reused id (a mined, failed transaction,
        # replayed into BatchAlreadyAnchored in the helper), then the same look-up.
        with pytest.raises(IntegrityError, match="is anchored with root"):
            helper.anchor(other_root, fresh=True)
        assert helper.chain_id == info.chain_id
    with Chain.embedded(deployed_dir, holder="pytest") as chain:  # the helper let go of it
        assert chain.chain_id == info.chain_id


def test_a_helper_that_signs_as_another_account_is_refused(deployed_dir: Path) -> None:
    settings = Settings(data_dir=deployed_dir)
    with ChainProcess(settings, holder="pytest helper", sender="0x" + "00" * 20) as helper:
        with pytest.raises(ConfigurationError, match="signs as 0x"):
            helper.ready()
        with pytest.raises(ConfigurationError):
            helper.anchor(_spec(), fresh=True)


def test_a_chain_another_process_holds_is_refused_with_its_holder(deployed_dir: Path) -> None:
    with Chain.embedded(deployed_dir, holder="ledger serve"):
        helper = ChainProcess(Settings(data_dir=deployed_dir), holder="pytest helper")
        try:
            with pytest.raises(ChainLockedError, match="ledger serve"):
                helper.ready()
            with pytest.raises(ChainLockedError):  # and so is every later question
                helper.anchor(_spec(), fresh=True)
        finally:
            helper.close()


def test_the_helper_dies_with_the_process_it_serves(deployed_dir: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from ledger.anchoring.chain_process import ChainProcess\n"
        "from ledger.config import Settings\n"
        f"h = ChainProcess(Settings(data_dir=Path({str(deployed_dir)!r})), holder='doomed')\n"
        "h.ready()\n"
        "print(h._proc.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    helper_pid = int(parent.stdout.readline())
    os.kill(helper_pid, 0)  # alive
    parent.kill()
    parent.wait()
    wait_until(lambda: not _alive(helper_pid))
    # And its lock went with it. A killed process's files are closed when its last
    # thread has exited, which can be after its main thread shows as a zombie.
    wait_until(lambda: _lock_free(deployed_dir))


def _lock_free(data_dir: Path) -> bool:
    try:
        with Chain.embedded(data_dir, holder="pytest"):
            return True
    except ChainLockedError:
        return False


def _alive(pid: int) -> bool:
    """Whether any thread of ``pid`` still runs. The leader turns zombie first when the
    process is killed, while its other threads may still be exiting and its files (the
    chain's lock among them) still open; an unreaped zombie has none."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return False
    for thread in threads:
        try:
            if (thread / "stat").read_text().rsplit(") ", 1)[1][0] != "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
    return False
