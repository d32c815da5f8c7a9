"""The chain half of a submission in a helper process of its own.

A submission's records are processed on threads that release the GIL, and its
batches are stored on another. The embedded chain is py-evm: pure Python, ~35
ms of GIL-held work per anchor, so in the same process every anchor stalled the
record threads. Here the helper owns the chain (and its lock); the submitting
process keeps the store, the outbox and everything it records, and asks the
helper for one thing: "anchor this batch" (:class:`BatchAnchor`), answered
with the event, its block's time and whether the chain had it already.

The helper starts at once and opens the chain while the submitter reads; the
first question waits for it to be ready. Its errors come back as the same
typed :class:`~ledger.errors.LedgerError`. It dies with the submitter (a
thread waits on the submitter's pidfd, and on end of input), and a failpoint hit
in it kills the submitter too: a crash is of the whole command, as it was in one
process.

Messages are pickled, one per frame, over a pair of pipes (stdout stays free
for anything a library prints).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import ledger
from ledger import _failpoints
from ledger.anchoring.outbox import BatchAnchor
from ledger.chain.errors import ChainUnavailableError
from ledger.chain.signer import ENV_KEY
from ledger.chain.types import AnchorEvent
from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError

#: Where there is no pidfd (not Linux), how often the helper looks for its submitter.
_PARENT_POLL = 0.1


@dataclass(frozen=True)
class ChainInfo:
    """What the submitter needs to know of the chain the helper opened."""

    sender: str
    chain_id: int
    registry_address: str
    confirmations: int


class ChainProcess:
    """The submitter's end: a :class:`~ledger.anchoring.outbox.ChainSide` in a helper process."""

    def __init__(self, settings: Settings, *, holder: str, sender: str | None = None) -> None:
        """Start the helper for the chain ``settings`` name; ``sender``: the account this
        process expects it to sign as (checked once it is ready)."""
        self._expected = sender
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # The helper runs this very copy of the package, wherever it was imported from.
        here = str(Path(ledger.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(to_child_r), str(from_child_w),
                 str(os.getpid())],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=_stderr_fd(),
                env=env,
            )  # fmt: skip
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._out: BinaryIO = os.fdopen(to_child_w, "wb")
        self._in: BinaryIO = os.fdopen(from_child_r, "rb")
        self._lock = threading.Lock()
        self._info: ChainInfo | None = None
        self._failed: LedgerError | None = None  # why it could not open the chain
        self._closed = False
        self._send(("open", settings.model_dump(), holder))

    def ready(self) -> ChainInfo:
        """The chain's facts, once the helper has opened it; raises why it could not."""
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._info is None:
                try:
                    info = self._answer()
                    if self._expected is not None and info.sender != self._expected:
                        raise ConfigurationError(
                            f"the chain helper signs as {info.sender}, not as {self._expected}",
                            hint=f"set {ENV_KEY} the same for every process, or unset it",
                        )
                except LedgerError as exc:
                    self._failed = exc
                    raise
                self._info = info
            return self._info

    @property
    def chain_id(self) -> int:
        return self.ready().chain_id

    @property
    def registry_address(self) -> str:
        return self.ready().registry_address

    @property
    def confirmations(self) -> int:
        return self.ready().confirmations

    def inclusions(self, tx_hashes: Sequence[str]) -> tuple[int, dict[str, str | None]]:
        """The head's number and each transaction's block hash now (None: not mined)."""
        self.ready()
        with self._lock:
            self._send(("inclusions", list(tx_hashes)))
            return cast(tuple[int, dict[str, str | None]], self._answer())

    def anchor(self, batch: BatchAnchor, *, fresh: bool) -> tuple[AnchorEvent, str, bool]:
        """The batch's anchor event, its block's time and whether it was on chain already."""
        self.ready()
        with self._lock:
            self._send(("anchor", batch, fresh))
            return cast(tuple[AnchorEvent, str, bool], self._answer())

    def close(self) -> None:
        """End the helper: it finishes what it was asked, releases the chain and exits."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._out.close()
        try:
            self._proc.wait()
        finally:
            self._in.close()

    def __enter__(self) -> ChainProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, message: object) -> None:
        try:
            pickle.dump(message, self._out, protocol=pickle.HIGHEST_PROTOCOL)
            self._out.flush()
        except (BrokenPipeError, ValueError):
            raise self._gone() from None

    def _answer(self) -> Any:
        try:
            kind, value = _recv(self._in)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._gone() from None
        if kind == "error":
            raise _error_from(value)
        return value

    def _gone(self) -> ChainUnavailableError:
        code = self._proc.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return ChainUnavailableError(
            f"the chain helper process stopped ({how})",
            hint="run the command again: a submission resumes where it stopped",
        )


def _recv(stream: BinaryIO) -> Any:
    """The next message. Both pipes are private to the two processes (inherited, unnamed):
    nothing else can write what is unpickled here."""
    return pickle.load(stream)  # noqa: S301


def _stderr_fd() -> int:
    """Where the helper's stdout goes: this process's stderr (nothing, if it has no fd)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an object (a test runner)
        return subprocess.DEVNULL


# ---------------------------------------------------------------- errors across the pipe


def _error_to(exc: BaseException) -> tuple[Any, ...]:
    """A picklable description of ``exc``: a LedgerError by class and attributes."""
    if isinstance(exc, LedgerError):
        cls = type(exc)
        attrs = {k: v for k, v in vars(exc).items() if _picklable(v)}
        return ("ledger", cls.__module__, cls.__qualname__, exc.message, attrs)
    return ("other", type(exc).__name__, str(exc)[:500])


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _error_from(info: tuple[Any, ...]) -> LedgerError:
    """The error :func:`_error_to` described, of the same class where it can be made."""
    if info[0] == "ledger":
        _, module, qualname, message, attrs = info
        try:
            cls = getattr(importlib.import_module(module), qualname)
        except (ImportError, AttributeError):
            cls = None
        if isinstance(cls, type) and issubclass(cls, LedgerError):
            exc = cls.__new__(cls)
            Exception.__init__(exc, message)
            exc.__dict__.update(attrs)
            exc.message = message
            return exc
        return ChainUnavailableError(message, hint=attrs.get("hint"))
    _, name, text = info
    return ChainUnavailableError(f"the chain helper process failed: {name}: {text}")


# ---------------------------------------------------------------- the helper


def _die_with_parent(parent: int) -> None:
    """End this process at once when ``parent`` goes, however it goes.

    The helper holds the chain (and its lock) for the submitter only: when a
    ``kill -9`` ends the submitter mid-anchor, the helper must not finish the
    anchor nor keep the lock a resumed run waits for. A thread waits on the
    parent's pidfd (readable when it exits); without pidfds, it polls
    ``getppid`` (an orphan is re-parented).
    """
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(parent)
    if os.getppid() != parent:  # it went already (or the pidfd is of another process)
        os._exit(1)

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while os.getppid() == parent:
                select.select([], [], [], _PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(inbox: BinaryIO, outbox: BinaryIO) -> int:
    from ledger import logs
    from ledger.anchoring.outbox import RegistrySide
    from ledger.chain import Deployment, check_deployment, open_chain
    from ledger.chain.registry import AnchorRegistryClient

    def reply(kind: str, value: object) -> None:
        pickle.dump((kind, value), outbox, protocol=pickle.HIGHEST_PROTOCOL)
        outbox.flush()

    logs.configure()
    try:
        _, settings_data, holder = _recv(inbox)
    except EOFError:
        return 0
    settings = Settings(**settings_data)
    try:
        deployment = Deployment.load(settings.deployment_file)
        chain = open_chain(settings, holder=holder)
    except LedgerError as exc:
        reply("error", _error_to(exc))
        return 1
    try:
        check_deployment(chain, deployment)
        side = RegistrySide(AnchorRegistryClient.from_deployment(chain, deployment))
        reply(
            "ready",
            ChainInfo(
                chain.address.lower(), chain.chain_id, side.registry_address, chain.confirmations
            ),
        )
    except LedgerError as exc:
        chain.close()
        reply("error", _error_to(exc))
        return 1
    try:
        while True:
            try:
                what, *args = _recv(inbox)
            except EOFError:
                return 0
            try:
                if what == "inclusions":
                    reply("ok", side.inclusions(*args))
                else:
                    batch, fresh = args
                    reply("ok", side.anchor(batch, fresh=fresh))
            except Exception as exc:
                reply("error", _error_to(exc))
    finally:
        chain.close()


def main(argv: list[str]) -> int:
    inbox_fd, outbox_fd, parent = (int(a) for a in argv)
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the submitter decides, and closes us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _failpoints.also_kill(parent)
    with os.fdopen(inbox_fd, "rb") as inbox, os.fdopen(outbox_fd, "wb") as outbox:
        try:
            return _serve(inbox, outbox)
        except BrokenPipeError:  # the submitter went away
            return 0


if __name__ == "__main__":
    # Run from the module under its own name, so what it pickles unpickles in the submitter.
    from ledger.anchoring import chain_process

    code = chain_process.main(sys.argv[1:])
    # The chain is closed by now (committed at every block, its lock released) and the
    # pipes with it. Tearing down the interpreter's web3 / py-evm modules would take
    # ~0.27 s more, which the submitter spends waiting for us at its end: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
