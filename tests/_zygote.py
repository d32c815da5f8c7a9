"""The zygote behind :mod:`tests._launcher`: a process that imports the ``ledger``
stack once and forks a fresh child for each ``ledger`` command a test runs.

Run as ``python tests/_zygote.py SCRIPT CONTROL_FD`` (by :mod:`tests._launcher`,
one per pytest worker): SCRIPT is the ``ledger`` console script, CONTROL_FD one
end of a ``SOCK_SEQPACKET`` socket pair. Standard library only: nothing of the
tests is imported into the process the children are copies of.

A child must be what ``ledger ARGS`` run afresh would be. What a fork cannot give
it, the zygote refuses, and says so, rather than hand out a child that differs:

* Modules that keep something of the environment, the terminal or the working
  directory from their import time are not preloaded (:data:`REFUSED`; the child
  imports them itself). Every variable a preloaded module reads while being
  imported is recorded; a command whose environment has another value for one of
  them, or for anything read at interpreter start-up (:data:`STARTUP_ENV`), is
  refused. The two modules that note the working directory at import
  (:data:`CWD_AT_IMPORT`) get the child's.
* No thread, no open file and no changed signal handler may come out of the
  preload: a fork copies only the calling thread, and the child must own nothing
  of the zygote's.
* The child replaces the environment, sets the working directory and the standard
  streams (built as the interpreter builds them at start-up), reseeds what is
  seeded at import, runs SCRIPT as ``__main__`` and then ends the way the
  interpreter ends a script: threads joined, ``atexit``, streams flushed, the same
  exit code for a ``SystemExit``, a traceback and 1 for an uncaught exception.

One connection per command (a socket pair whose other end the client keeps) carries
the child's pid and a pidfd of it back, then its wait status once the zygote reaped it.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

#: What the zygote imports: the chain stack (web3, eth-account, py-evm: seconds per
#: process) and the libraries the store and the settings use. A module missing here
#: costs each child its import; it is never wrong.
PRELOAD = (
    "ledger.cli.main",
    "ledger.config",
    "ledger.proofs",
    "ledger.client",
    "ledger.chain.embedded",
    "ledger.chain.connection",
    "ledger.chain.opening",
    "ledger.chain.attest",
    "ledger.chain.registry",
    "ledger.chain.deploy",
    "ledger.chain.signer",
    "ledger.audit.replay",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.sqlite",
    "alembic",
)

#: Modules the zygote must not hold, and why. Importing one while preloading fails
#: the zygote's start: drop from :data:`PRELOAD` whatever imports it.
REFUSED = {
    "polars": "starts threads at import (jemalloc's, an out-of-core cleaner): a fork has none",
    "ledger._failpoints": "reads LEDGER_FAILPOINTS at import",
    "ledger.cli._common": "sizes its consoles from the environment and the terminal at import",
}

#: Read by the interpreter at start-up (locale, stream encoding, hash seed, paths) or
#: by C libraries, where no record of Python's reads sees them: a child's must be the
#: zygote's.
STARTUP_ENV = ("PYTHON", "LC_", "LANG", "LD_", "MALLOC_", "GLIBC_", "OPENSSL_", "SSL_CERT_")

#: The modules known to note the working directory when imported, with the name
#: they keep it under; a child sets each to its own.
CWD_AT_IMPORT = {"rich": "_IMPORT_CWD", "multiprocessing.process": "ORIGINAL_DIR"}

#: Largest request (argv, environment, cwd) a client may send, in bytes.
MAX_REQUEST = 1 << 20
#: File descriptors per request: the connection, then the child's stdin, stdout, stderr.
REQUEST_FDS = 4


class ZygoteError(Exception):
    """The zygote cannot give a child that is what a fresh process would be."""


def message(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


# ---------------------------------------------------------------------------
# Preloading, and what it may not leave behind


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        for refused, why in REFUSED.items():
            if name == refused or name.startswith(refused + "."):
                raise ZygoteError(f"preloading imported {name}, which a zygote may not hold: {why}")
        return None


class _Reads:
    """Who reads the environment or the working directory while modules are imported."""

    def __init__(self) -> None:
        self.env: dict[str, set[str]] = {}
        self.cwd: set[str] = set()
        self.other: list[str] = []  # writes and whole-environment copies

    @staticmethod
    def importing() -> str:
        """The module whose top-level code is running (the innermost import)."""
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") != __name__:
                return str(frame.f_globals.get("__name__"))
            frame = frame.f_back
        return "?"

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        cls: Any = os._Environ  # type: ignore[attr-defined]
        saved = {
            n: getattr(cls, n) for n in ("__getitem__", "__iter__", "__setitem__", "__delitem__")
        }
        getcwd = os.getcwd

        def getitem(env: Any, key: Any) -> Any:
            self.env.setdefault(os.fsdecode(key), set()).add(self.importing())
            return saved["__getitem__"](env, key)

        def iterate(env: Any) -> Any:
            self.other.append(f"{self.importing()} iterated os.environ")
            return saved["__iter__"](env)

        def setitem(env: Any, key: Any, value: Any) -> None:
            self.other.append(f"{self.importing()} set {os.fsdecode(key)}")
            saved["__setitem__"](env, key, value)

        def delitem(env: Any, key: Any) -> None:
            self.other.append(f"{self.importing()} deleted {os.fsdecode(key)}")
            saved["__delitem__"](env, key)

        def cwd() -> str:
            self.cwd.add(self.importing())
            return getcwd()

        cls.__getitem__, cls.__iter__ = getitem, iterate
        cls.__setitem__, cls.__delitem__ = setitem, delitem
        os.getcwd = cwd
        try:
            yield
        finally:
            for name, method in saved.items():
                setattr(cls, name, method)
            os.getcwd = getcwd


def _os_threads() -> list[str]:
    return os.listdir("/proc/self/task")


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def _handlers() -> dict[int, Any]:
    skip = {signal.SIGKILL, signal.SIGSTOP}
    return {s: signal.getsignal(s) for s in signal.valid_signals() if s not in skip}


def preload(modules: Sequence[str]) -> dict[str, set[str]]:
    """Import ``modules``; return the environment variables read meanwhile, each with
    the modules that read it. Raises :class:`ZygoteError` for what a fork would carry."""
    fds, handlers = _open_fds(), _handlers()
    reads = _Reads()
    refuse = _Refuse()
    sys.meta_path.insert(0, refuse)
    try:
        with reads.recording():
            for name in modules:
                importlib.import_module(name)
    finally:
        sys.meta_path.remove(refuse)
    problems = list(reads.other)
    problems += [f"{m} read the working directory" for m in reads.cwd - set(CWD_AT_IMPORT)]
    if threading.active_count() != 1 or len(_os_threads()) != 1:
        problems.append(f"threads after preloading: {threading.enumerate()}, {_os_threads()}")
    if _open_fds() - fds:
        problems.append(f"files opened while preloading: {sorted(_open_fds() - fds)}")
    if _handlers() != handlers:
        problems.append("signal handlers changed while preloading")
    if getattr(sys.modules.get("rich"), "_console", None) is not None:
        problems.append("rich's global console (sized for this terminal) was made")
    if problems:
        raise ZygoteError("; ".join(problems))
    return reads.env


def environment_at_exec() -> dict[str, str]:
    """This process's environment as it was exec'd, before the interpreter's start-up
    changed any of it (PEP 538 sets LC_CTYPE under the C locale)."""
    with open("/proc/self/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(os.fsdecode(item).partition("=")[::2] for item in items if item)


def refusal(
    given: Mapping[str, str],
    env: Mapping[str, str],
    read: Mapping[str, set[str]],
    at_exec: Mapping[str, str],
) -> str | None:
    """Why a command given environment ``given`` (``env`` once start-up would have
    changed it) cannot be a child of this zygote, if so: a variable read at start-up or
    while preloading has another value than the zygote had then."""
    startup = sorted(n for n in {*given, *at_exec} if n.startswith(STARTUP_ENV))
    differs = [n for n in startup if given.get(n) != at_exec.get(n)]
    differs += [n for n in sorted(read) if env.get(n) != os.environ.get(n)]
    if not differs:
        return None
    who = ", ".join(sorted(read.get(differs[0], {"the interpreter at start-up"})))
    return (
        f"{differs[0]} differs from the zygote's, and {who} read it when the zygote "
        "started: run this command with the real console script"
    )


# ---------------------------------------------------------------------------
# A child: becoming ``ledger ARGS``


def _stream(fd: int, template: io.TextIOWrapper, name: str) -> io.TextIOWrapper:
    """A standard stream on ``fd``, made as the interpreter makes it at start-up
    (Python/pylifecycle.c, create_stdio) with the encoding it chose for ``template``."""
    writing = fd != 0
    unbuffered = template.write_through  # -u or PYTHONUNBUFFERED, as the zygote started
    buffered = open(  # noqa: SIM115 - a standard stream, never closed
        fd, "wb" if writing else "rb", 0 if unbuffered and writing else -1, closefd=False
    )
    raw = buffered if unbuffered and writing else buffered.raw  # type: ignore[union-attr]
    raw.name = name
    stream = io.TextIOWrapper(
        buffered,  # type: ignore[arg-type]
        encoding=template.encoding,
        errors=template.errors,
        newline="\n",
        line_buffering=not unbuffered and (raw.isatty() or fd == 2),
        write_through=unbuffered,
    )
    stream.mode = "w" if writing else "r"  # type: ignore[misc]
    return stream


def _reset_import_time_state() -> None:
    """What preloaded modules noted at import that a fresh process would note anew."""
    cwd = os.path.abspath(os.getcwd())
    for module, attr in CWD_AT_IMPORT.items():
        if module in sys.modules:
            setattr(sys.modules[module], attr, cwd)
    if "multiprocessing.process" in sys.modules:  # a random key per process, made at import
        process = sys.modules["multiprocessing.process"]
        process.current_process().authkey = os.urandom(32)
    time.tzset()


def _trimmed(tb: types.TracebackType | None, script: str) -> types.TracebackType | None:
    """The traceback from the script's frame on (a fresh process has no zygote frames)."""
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    return tb


def _exit_code(exc: SystemExit) -> int:
    """The exit code the interpreter makes of an uncaught ``SystemExit``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(str(code))
    sys.stderr.write("\n")
    return 1


def _finish(code: int, interrupted: bool) -> None:
    """End as the interpreter ends: non-daemon threads joined, ``atexit``, the standard
    streams flushed (a failed flush makes it 120), then the exit code or SIGINT."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # the interpreter reports it and exits with 120
            code = 120
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    os._exit(code & 0xFF)


def _run_script(script: str, code: types.CodeType, argv: Sequence[str], interpreter: str) -> None:
    sys.argv = list(argv)
    sys.orig_argv = [interpreter, *argv]
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    main.__dict__.update(__annotations__={}, __cached__=None, __package__=None, __spec__=None)
    sys.modules["__main__"] = main
    status, interrupted = 0, False
    try:
        exec(code, main.__dict__)  # noqa: S102 - the console script, compiled by the zygote
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException as exc:  # the interpreter prints it and exits with 1
        exc.__traceback__ = _trimmed(exc.__traceback__, script)
        sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, exc.__traceback__
        sys.excepthook(type(exc), exc, exc.__traceback__)
        status, interrupted = 1, isinstance(exc, KeyboardInterrupt)
    _finish(status, interrupted)


def become(request: Mapping[str, Any], stdio: Sequence[int], errpipe: int, name: str) -> None:
    """In the forked child: the standard descriptors, working directory and environment
    the request asks for, and no other descriptor but ``errpipe`` (as ``close_fds``);
    the command ``name`` (what ps shows; the argv it shows stays the zygote's). A
    failure is written to ``errpipe`` (as subprocess does) and ends the child."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        keep = sorted({0, 1, 2, errpipe})
        for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
            os.closerange(low + 1, high)
        os.environ.clear()
        os.environ.update(request["env"])
    except OSError as exc:
        os.write(errpipe, message(errno=exc.errno, error=str(exc)))
        os._exit(255)
    os.close(errpipe)


# ---------------------------------------------------------------------------
# The zygote's loop


class Zygote:
    def __init__(self, script: str, control: socket.socket) -> None:
        self.script = script
        self.control = control
        self.interpreter = shebang(script)
        with open(script, "rb") as f:
            self.code = compile(f.read(), script, "exec")
        self.read: dict[str, set[str]] = {}
        self.at_exec = environment_at_exec()
        #: What the interpreter's start-up put in the environment: a fresh process whose
        #: start-up variables are the zygote's would put the same.
        self.added = {k: v for k, v in os.environ.items() if self.at_exec.get(k) != v}
        self.children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> pid, connection
        self.selector = selectors.DefaultSelector()

    def serve(self) -> int:
        self.selector.register(self.control, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if not self.accept():
                        return self.shut_down()
                else:
                    self.reap(key.fd)

    def accept(self) -> bool:
        data, fds, flags, _ = socket.recv_fds(self.control, MAX_REQUEST, REQUEST_FDS)
        if not data and not fds:
            return False  # the client went: the end of its session, or of its process
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != REQUEST_FDS:
            for fd in fds:
                os.close(fd)
            raise ZygoteError(f"a malformed request ({len(data)} bytes, {len(fds)} fds)")
        conn = socket.socket(fileno=fds[0])
        try:
            self.start(json.loads(data), fds[1:], conn)
        finally:
            for fd in fds[1:]:
                os.close(fd)
        return True

    def start(self, request: dict[str, Any], stdio: Sequence[int], conn: socket.socket) -> None:
        given = request["env"]
        request["env"] = {**given, **self.added}
        why = refusal(given, request["env"], self.read, self.at_exec)
        if why is not None:
            conn.send(message(refused=why))
            conn.close()
            return
        errpipe_r, errpipe_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:  # never back into this loop: the child ends in run(), or here
                self.close_own(conn, errpipe_r)
                become(request, stdio, errpipe_w, os.path.basename(self.script))
                self.run(request["argv"])
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(255)
        os.close(errpipe_w)
        with os.fdopen(errpipe_r, "rb") as errpipe:
            failed = errpipe.read()
        if failed:
            os.waitpid(pid, 0)
            conn.send(failed)
            conn.close()
            return
        pidfd = os.pidfd_open(pid)
        socket.send_fds(conn, [message(pid=pid)], [pidfd])
        self.children[pidfd] = (pid, conn)
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.log(f"pid {pid}: ledger {' '.join(request['argv'][1:2])}")

    def close_own(self, conn: socket.socket, errpipe_r: int) -> None:
        """In a new child: close what is the zygote's, through the objects that own it."""
        self.selector.close()
        self.control.close()
        conn.close()
        os.close(errpipe_r)
        for pidfd, (_, other) in self.children.items():
            os.close(pidfd)
            other.close()

    def run(self, argv: Sequence[str]) -> None:
        """In the child, once it is set up: the console script, as ``__main__``."""
        sys.stdin = sys.__stdin__ = _stream(0, sys.__stdin__, "<stdin>")  # type: ignore[arg-type]
        sys.stdout = sys.__stdout__ = _stream(1, sys.__stdout__, "<stdout>")  # type: ignore[arg-type]
        sys.stderr = sys.__stderr__ = _stream(2, sys.__stderr__, "<stderr>")  # type: ignore[arg-type]
        _reset_import_time_state()
        _run_script(self.script, self.code, argv, self.interpreter)

    def reap(self, pidfd: int) -> None:
        pid, conn = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        self.log(f"pid {pid}: wait status {status}, cpu {usage.ru_utime + usage.ru_stime:.3f} s")
        with contextlib.suppress(OSError):  # its client may have gone without waiting
            conn.send(message(status=status))
        conn.close()

    def shut_down(self) -> int:
        """Kill and reap the children still running: a fresh process would outlive
        the session, these must not."""
        for pidfd, (pid, _) in list(self.children.items()):
            self.log(f"pid {pid}: still running when the session ended, killed")
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            self.reap(pidfd)
        return 0

    @staticmethod
    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def shebang(script: str) -> str:
    with open(script, "rb") as f:
        line = f.readline()
    if not line.startswith(b"#!"):
        raise ZygoteError(f"{script} has no #! line")
    return os.fsdecode(line[2:].strip())


def main(script: str, control_fd: int) -> int:
    # The path a fresh `python SCRIPT` searches first: the script's directory, not this one's.
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    control = socket.socket(fileno=control_fd)
    zygote = Zygote(script, control)
    if os.path.realpath(zygote.interpreter) != os.path.realpath(sys.executable):
        raise ZygoteError(f"{script} runs {zygote.interpreter}, the zygote {sys.executable}")
    started = time.process_time()
    zygote.read = preload(PRELOAD)
    control.send(message(ready=os.getpid(), cpu=time.process_time() - started))
    return zygote.serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
