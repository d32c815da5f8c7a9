"""The test launcher (tests._launcher): a forked ``ledger`` is what a fresh one is.

Where output is compared, the same command also runs as the real console script,
and the two must agree byte for byte, exit code included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import _launcher
from tests.conftest import WAIT_SECONDS, ledger_cli, wait_until


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return env | {"COLUMNS": "80"} | extra


def _both(args: list[str], **kwargs: Any) -> tuple[Any, Any]:
    """The command run by the launcher and by subprocess (as bytes, both streams)."""
    forked = _launcher.run(args, capture_output=True, timeout=WAIT_SECONDS, **kwargs)
    fresh = subprocess.run(args, capture_output=True, timeout=WAIT_SECONDS, check=False, **kwargs)
    return forked, fresh


def _same(forked: Any, fresh: Any) -> None:
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode,
        fresh.stdout,
        fresh.stderr,
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["verify", "--help"], 0),
        (["--version"], 0),
        (["verify"], 2),
        (["nosuch"], 2),
    ],
)
def test_help_and_usage_errors_are_the_console_scripts(args: list[str], code: int) -> None:
    forked, fresh = _both([ledger_cli(), *args], env=_env())
    _same(forked, fresh)
    assert forked.returncode == code
    assert forked.stdout or forked.stderr


def test_an_uncaught_exception_is_the_same_traceback_and_exit_1(tmp_path: Path) -> None:
    # A malformed failpoint spec raises while the command's module is imported.
    args = [ledger_cli(), "submit", str(tmp_path / "x.csv"), "--data-dir", str(tmp_path)]
    forked, fresh = _both(args, env=_env(LEDGER_FAILPOINTS="x=bogus"))
    _same(forked, fresh)
    assert forked.returncode == 1
    assert forked.stderr.startswith(b"Traceback (most recent call last):\n")
    assert forked.stderr.endswith(
        b"ValueError: LEDGER_FAILPOINTS: unknown action 'bogus' for 'x' (kill or hold)\n"
    )
    # The next command, without the variable, has no failpoint (nothing kept from before).
    again = _launcher.run(args, capture_output=True, text=True, env=_env())
    assert again.returncode == 1
    assert again.stderr.startswith("error: no deployment at "), again.stderr


def test_stdin_is_the_callers(tmp_path: Path) -> None:
    for text in ("[1, 2", "{}"):
        forked, fresh = _both(
            [ledger_cli(), "verify", "/dev/stdin"], input=text.encode(), env=_env()
        )
        _same(forked, fresh)
        assert forked.returncode == 2
    assert (
        b"is not valid JSON"
        in _launcher.run(
            [ledger_cli(), "verify", "/dev/stdin"], input=b"[1, 2", capture_output=True, env=_env()
        ).stderr
    )


def test_each_command_has_its_own_environment_and_working_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    args = [ledger_cli(), "init", "--json"]
    set_dir = _launcher.run(
        args,
        capture_output=True,
        text=True,
        cwd=first,
        env=_env(LEDGER_DATA_DIR=str(tmp_path / "d")),
    )
    default = _launcher.run(args, capture_output=True, text=True, cwd=second, env=_env())
    assert set_dir.returncode == default.returncode == 0, set_dir.stderr + default.stderr
    assert json.loads(set_dir.stdout)["data_dir"] == str(tmp_path / "d")
    assert json.loads(default.stdout)["data_dir"] == ".ledger"
    assert (second / ".ledger").is_dir()
    assert not (first / ".ledger").exists()
    # Each made a key of its own: no random state is shared.
    assert json.loads(set_dir.stdout)["account"] != json.loads(default.stdout)["account"]


def test_a_working_directory_that_is_missing_is_subprocess_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for launch in (_launcher.run, subprocess.run):
        with pytest.raises(FileNotFoundError) as raised:
            launch([ledger_cli(), "--version"], cwd=missing, capture_output=True)
        assert raised.value.filename == missing


def test_an_environment_the_zygote_cannot_give_is_refused() -> None:
    env = _env(PYTHONHASHSEED="1" if os.environ.get("PYTHONHASHSEED") != "1" else "2")
    with pytest.raises(_launcher.LauncherError, match="PYTHONHASHSEED differs"):
        _launcher.run([ledger_cli(), "--version"], capture_output=True, env=env)
    with pytest.raises(ValueError, match="illegal environment variable name"):
        _launcher.run([ledger_cli(), "--version"], env=_env() | {"A=B": "c"})


def _blocked(**kwargs: Any) -> _launcher.Popen:
    """A command that waits for its stdin: a pipe nobody writes to."""
    read, write = os.pipe()
    proc = _launcher.Popen([ledger_cli(), "verify", "/dev/stdin"], stdin=read, env=_env(), **kwargs)
    os.close(read)
    proc.keep_open = write  # type: ignore[attr-defined]
    return proc


def test_kill_9_of_the_pid_and_a_crash_leave_the_zygote_serving() -> None:
    proc = _blocked(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.pid not in (os.getpid(), os.getppid())
    assert proc.poll() is None
    assert Path(f"/proc/{proc.pid}/comm").read_text() == "ledger\n"  # as ps names it
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=WAIT_SECONDS) == -signal.SIGKILL
    crashed = _blocked()
    os.kill(crashed.pid, signal.SIGSEGV)
    assert crashed.wait(timeout=WAIT_SECONDS) == -signal.SIGSEGV
    terminated = _blocked()
    terminated.terminate()
    assert terminated.wait(timeout=WAIT_SECONDS) == -signal.SIGTERM
    for p in (proc, crashed, terminated):
        os.close(p.keep_open)  # type: ignore[attr-defined]
        p.kill()  # a no-op on one that ended
    assert _launcher.run([ledger_cli(), "--version"], capture_output=True).returncode == 0


def test_a_timeout_kills_the_child() -> None:
    proc = _blocked(stdout=subprocess.PIPE)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.communicate(timeout=0.2)
    assert proc.poll() is None
    proc.kill()
    assert proc.wait(timeout=WAIT_SECONDS) == -signal.SIGKILL
    os.close(proc.keep_open)  # type: ignore[attr-defined]
    read, write = os.pipe()
    with pytest.raises(subprocess.TimeoutExpired):
        _launcher.run([ledger_cli(), "verify", "/dev/stdin"], stdin=read, timeout=0.2)
    os.close(read)
    os.close(write)


# The interpreter's own endings, which no ledger command shows: a script of our own,
# run by the launcher (a zygote of its own) and as a real process.
SCRIPT = """\
    import atexit, os, sys, threading, time
    what = sys.argv[1]
    atexit.register(lambda: print("atexit", flush=True))
    print(sys.argv[1:], __name__, __file__ == sys.argv[0], sys.path[0], sys.orig_argv)
    for s in (sys.stdin, sys.stdout, sys.stderr):
        print(s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through)
    print(os.getcwd(), sorted(os.environ.items()), threading.active_count())
    print("unflushed", end="")
    sys.stderr.write("to stderr\\n")
    if what == "thread":
        threading.Thread(target=lambda: (time.sleep(0.2), print(" thread done"))).start()
    elif what == "exit-text":
        sys.exit("a message")
    elif what == "exit-7":
        raise SystemExit(7)
    elif what == "raise":
        def inner():
            raise RuntimeError("boom")
        inner()
    elif what == "interrupt":
        raise KeyboardInterrupt
    elif what == "read":
        sys.stdin.read()
"""


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("tool") / "tool"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(SCRIPT))
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("what", ["plain", "thread", "exit-text", "exit-7", "raise", "interrupt"])
def test_a_script_ends_as_the_interpreter_ends_it(tool: Path, tmp_path: Path, what: str) -> None:
    # Without PATH, which the zygote has: the child's environment is the one given.
    env = {k: v for k, v in _env(LAUNCHED="yes").items() if k != "PATH"}
    forked, fresh = _both([str(tool), what], env=env, cwd=tmp_path)
    _same(forked, fresh)
    assert b"unflushed" in forked.stdout
    assert forked.returncode == {"exit-text": 1, "exit-7": 7, "raise": 1, "interrupt": -2}.get(
        what, 0
    )


def test_a_zygote_that_dies_fails_its_commands_loudly(tmp_path: Path) -> None:
    script = tmp_path / "tool"  # a zygote of this test's own, to kill
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(SCRIPT))
    script.chmod(0o755)
    proc = _launcher.Popen([str(script), "read"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    zygote = _launcher._zygotes.pop(str(script))
    zygote.proc.kill()
    zygote.proc.wait()
    with pytest.raises(_launcher.LauncherError, match=f"went before pid {proc.pid} ended"):
        proc.wait(timeout=WAIT_SECONDS)
    wait_until(lambda: _gone(proc.pid))  # the orphan was killed, not left running
    with pytest.raises(_launcher.LauncherError, match="the zygote is gone"):
        zygote.spawn([str(script), "plain"], _env(), str(tmp_path), [0, 1, 2])
    with pytest.raises(_launcher.LauncherError, match="the zygote ended with -9"):
        zygote.stop()
    zygote.log.unlink()  # kept by a failed stop(), for the failure's diagnosis


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] == "Z"
    except FileNotFoundError:
        return True
