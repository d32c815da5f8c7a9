"""``ledger`` commands in tests: each a process of its own, without its seconds of imports.

:func:`run` and :class:`Popen` are :func:`subprocess.run` and :class:`subprocess.Popen`
for the ``ledger`` console script (``args[0]`` is :func:`tests.conftest.ledger_cli`).
The process is not exec'd: a zygote (:mod:`tests._zygote`, one per pytest worker,
started on first use and stopped when the session ends) that imported the chain
stack once forks it and runs the console script in it. It is still a process of its
own: its pid (``kill -9`` works), environment, working directory, argv, standard
streams, signals and exit code, as a fresh ``ledger`` would have them.

Anything the zygote cannot do as a fresh process would raises :class:`LauncherError`
(or the :class:`OSError` subprocess raises); nothing falls back to the real script.
Tests of the console script itself (the README, start-up imports, a release) run it
with :mod:`subprocess`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests import _zygote

#: Seconds for a zygote to import the stack (about 3 of CPU), or to fork a child, on a
#: machine busy with other work.
START_TIMEOUT = 600.0
#: What :class:`Popen` takes besides the arguments; the rest of subprocess's options
#: (a shell, pass_fds, another user, a new session...) have no use here.
OPTIONS = frozenset(
    {"stdin", "stdout", "stderr", "cwd", "env", "text", "encoding", "errors", "bufsize"}
)


class LauncherError(Exception):
    """A command could not be run as a fresh process of the console script would be."""


class _Zygote:
    """One running zygote, for one console script, seen from the tests' process."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.log = Path(tempfile.mkstemp(prefix="ledger-zygote-", suffix=".log")[1])
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The variables of a test (LEDGER_*, the current test's name) are not the session's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PYTEST_"))}
        with theirs, self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [_zygote.shebang(script), _zygote.__file__, script, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=[theirs.fileno()],
                env=env,
            )
        self.control = ours
        ours.settimeout(START_TIMEOUT)
        ready = ours.recv(4096)
        if not ready:
            self.proc.wait()
            raise LauncherError(f"the zygote for {script} did not start:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, stdio: Sequence[int]
    ) -> tuple[socket.socket, int, int]:
        """Fork ``argv`` with these standard descriptors: its connection, pid and pidfd."""
        request = _zygote.message(argv=list(argv), env=dict(env), cwd=cwd)
        conn, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with theirs:
                socket.send_fds(self.control, [request], [theirs.fileno(), *stdio])
            conn.settimeout(START_TIMEOUT)
            data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 1)
        except OSError as exc:
            conn.close()
            raise LauncherError(f"the zygote is gone ({exc}):\n{self.tail()}") from exc
        reply = json.loads(data) if data else {}
        if "pid" in reply and len(fds) == 1:
            conn.settimeout(None)
            return conn, int(reply["pid"]), fds[0]
        conn.close()
        for fd in fds:
            os.close(fd)
        if "errno" in reply:  # the child could not be set up: chdir failed
            raise OSError(reply["errno"], os.strerror(reply["errno"]), cwd)
        raise LauncherError(reply.get("refused") or f"the zygote went:\n{self.tail()}")

    def stop(self) -> None:
        """End the zygote (it kills the children still running); fails if it failed."""
        self.control.close()
        try:
            code = self.proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise LauncherError(f"the zygote did not stop:\n{self.tail()}") from None
        if code != 0:
            raise LauncherError(f"the zygote ended with {code}:\n{self.tail()}")
        self.log.unlink()


_zygotes: dict[str, _Zygote] = {}
_lock = threading.Lock()


def _zygote_for(script: str) -> _Zygote:
    with _lock:
        if script not in _zygotes:
            _zygotes[script] = _Zygote(script)
        return _zygotes[script]


def stop() -> None:
    """Stop the zygotes of this process (at the end of the session)."""
    with _lock:
        running = list(_zygotes.values())
        _zygotes.clear()
    for zygote in running:
        zygote.stop()


def _environment(env: Mapping[Any, Any] | None) -> dict[str, str]:
    """The child's environment, refused where exec would refuse it."""
    out = {}
    for key, value in (os.environ if env is None else env).items():
        name, text = os.fsdecode(key), os.fsdecode(value)
        if "=" in name:
            raise ValueError("illegal environment variable name")
        if "\0" in name + text:
            raise ValueError("embedded null byte")
        out[name] = text
    return out


class Popen(subprocess.Popen[Any]):
    """:class:`subprocess.Popen` of the console script, forked by its zygote.

    The zygote is the child's parent: it reaps it and sends its wait status, which
    :meth:`poll` and :meth:`wait` read; signals go through a pidfd of the child, so
    none can reach another process that got its pid after it ended.
    """

    _conn: socket.socket | None = None
    _pidfd: int | None = None

    def __init__(self, args: Sequence[str | os.PathLike[str]], **kwargs: Any) -> None:
        if set(kwargs) - OPTIONS:
            raise TypeError(f"not supported by the launcher: {sorted(set(kwargs) - OPTIONS)}")
        super().__init__(list(args), **kwargs)

    def _execute_child(  # type: ignore[override]
        self,
        args: Sequence[str | bytes | os.PathLike[str]],
        executable: None,
        preexec_fn: None,
        close_fds: bool,
        pass_fds: Sequence[int],
        cwd: str | bytes | os.PathLike[str] | None,
        env: Mapping[Any, Any] | None,
        startupinfo: None,
        creationflags: int,
        shell: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *_rest: Any,
    ) -> None:
        try:
            argv = [os.fsdecode(arg) for arg in args]
            where = os.getcwd() if cwd is None else os.fsdecode(cwd)
            stdio = [
                0 if p2cread == -1 else p2cread,
                1 if c2pwrite == -1 else c2pwrite,
                2 if errwrite == -1 else errwrite,
            ]
            zygote = _zygote_for(argv[0])
            try:
                self._conn, self.pid, self._pidfd = zygote.spawn(
                    argv, _environment(env), where, stdio
                )
            except OSError as exc:  # as subprocess raises it: naming cwd as it was given
                raise OSError(exc.errno, exc.strerror, cwd) from None
            self._child_created = True
            weakref.finalize(self, os.close, self._pidfd)
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)

    def _read_status(self, timeout: float | None, deadstate: int | None = None) -> None:
        """Wait up to ``timeout`` seconds for the zygote to send the child's wait status.
        The caller holds ``_waitpid_lock``."""
        conn = self._conn
        if conn is None:
            return
        poller = select.poll()
        poller.register(conn, select.POLLIN)
        if not poller.poll(None if timeout is None else math.ceil(max(timeout, 0) * 1000)):
            return
        data = conn.recv(4096)
        conn.close()
        self._conn = None
        if data:
            self._handle_exitstatus(json.loads(data)["status"])
            return
        # The zygote went: its child, orphaned, is not left running.
        signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)  # type: ignore[arg-type]
        if deadstate is not None:
            self.returncode = deadstate
            return
        raise LauncherError(f"the zygote went before pid {self.pid} ended")

    def _internal_poll(self, _deadstate: int | None = None, *_rest: Any) -> int | None:
        if self.returncode is None and self._waitpid_lock.acquire(False):
            try:
                if self.returncode is None:
                    self._read_status(0, _deadstate)
            except OSError:
                if _deadstate is None:
                    raise
                self.returncode = _deadstate
            finally:
                self._waitpid_lock.release()
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is None:
            with self._waitpid_lock:
                if self.returncode is None:
                    self._read_status(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.poll()
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it ended, not reaped yet
                signal.pidfd_send_signal(self._pidfd, sig)  # type: ignore[arg-type]


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    input: str | bytes | None = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    **kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` of the console script, forked by its zygote."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with Popen(args, **kwargs) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        except BaseException:
            proc.kill()
            raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done
