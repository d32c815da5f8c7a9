"""Failpoints: named places where a test can have the process killed outright.

Crash-safety claims are only worth what a real ``kill -9`` at the worst moment
shows. ``LEDGER_FAILPOINTS="batch-stored@2,anchor-mined"`` makes the process
SIGKILL itself the 2nd time it passes ``batch-stored`` and the 1st time it
passes ``anchor-mined``. ``batch-stored@3=hold`` instead holds the thread that
passes it the 3rd time until the file named by ``LEDGER_FAILPOINTS_RELEASE``
exists: a test can then change the world under a request at a known point (stop
the database) and let it go on. Unset (always, outside tests), a failpoint is
one dict lookup.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "LEDGER_FAILPOINTS"
RELEASE_ENV = "LEDGER_FAILPOINTS_RELEASE"
_HOLD = "hold"
#: How often a held thread looks for the release file.
_HOLD_POLL = 0.02


def _parse(spec: str) -> tuple[dict[str, int], set[str]]:
    """The armed points with the hit that fires each, and those that hold rather than kill."""
    points: dict[str, int] = {}
    held: set[str] = set()
    for item in filter(None, (p.strip() for p in spec.split(","))):
        item, _, action = item.partition("=")
        name, _, nth = item.partition("@")
        if action not in ("", _HOLD):
            raise ValueError(f"{ENV}: unknown action {action!r} for {name!r} (kill or hold)")
        points[name] = int(nth or 1)
        if action == _HOLD:
            held.add(name)
    return points, held


_ARMED, _HELD = _parse(os.environ.get(ENV, ""))
_HITS: dict[str, int] = {}
#: Processes killed first: a helper's failpoint is a crash of the command it serves.
_ALSO: list[int] = []


def also_kill(pid: int) -> None:
    """Have a failpoint hit in this process kill ``pid`` (the process it helps) first."""
    _ALSO.append(pid)


def _hold() -> None:
    release = os.environ.get(RELEASE_ENV)
    if not release:
        raise ValueError(f"{ENV}: a held failpoint needs {RELEASE_ENV} (a file to wait for)")
    while not Path(release).exists():
        time.sleep(_HOLD_POLL)


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is armed and its count is reached
    (or, armed to hold, wait there the once it is reached until released)."""
    if name not in _ARMED:
        return
    _HITS[name] = _HITS.get(name, 0) + 1
    if name in _HELD:
        if _HITS[name] == _ARMED[name]:
            _hold()
        return
    if _HITS[name] >= _ARMED[name]:
        for pid in _ALSO:
            os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
