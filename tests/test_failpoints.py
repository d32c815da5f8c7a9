"""Failpoints in a real process: killed at the armed hit, or held there until released."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ledger import _failpoints
from tests.conftest import COMMAND_TIMEOUT

#: Passes ``here`` three times, printing each pass and whether it was released by then.
PASSES = """
import os
from ledger._failpoints import failpoint
for n in (1, 2, 3):
    failpoint("here")
    print(n, os.path.exists(os.environ.get("LEDGER_FAILPOINTS_RELEASE", "-")), flush=True)
"""


def run(spec: str, release: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, _failpoints.ENV: spec}
    if release is not None:
        env[_failpoints.RELEASE_ENV] = str(release)
    return subprocess.Popen(
        [sys.executable, "-c", PASSES], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_the_armed_hit_kills_the_process() -> None:
    proc = run("here@2")
    out, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert out.split() == ["1", "False"]


def test_a_held_hit_waits_for_its_release_then_goes_on(tmp_path: Path) -> None:
    release = tmp_path / "release"
    proc = run("here@2=hold", release)
    assert proc.stdout is not None
    assert proc.stdout.readline().split() == ["1", "False"]
    # Held at the 2nd pass until the file exists: it passes only once released.
    release.touch()
    out, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0
    assert out.splitlines() == ["2 True", "3 True"]


def test_a_hold_without_a_release_file_or_an_unknown_action_is_refused(tmp_path: Path) -> None:
    for spec, release, why in (
        ("here=hold", None, _failpoints.RELEASE_ENV),
        ("here=pause", tmp_path / "r", "unknown action 'pause'"),
    ):
        proc = run(spec, release)
        _, err = proc.communicate(timeout=COMMAND_TIMEOUT)
        assert proc.returncode == 1 and why in err, (spec, err)
