"""Running the real ``ledger`` console script from CLI tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from tests.conftest import COMMAND_TIMEOUT, ledger_cli


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(extra or {})
    return env


def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ledger_cli(), *args],
        capture_output=True,
        text=True,
        env=_env(env),
        timeout=COMMAND_TIMEOUT,
    )


def run_all(
    commands: Sequence[Sequence[str]], env: Mapping[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time (never two on one embedded chain)."""
    procs = [
        subprocess.Popen(
            [ledger_cli(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(env),
        )
        for args in commands
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one ``error:`` line on stderr; returns it."""
    assert done.returncode != 0, f"expected a failure, got exit 0:\n{done.stdout}"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0]
