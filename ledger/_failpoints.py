"""Failpoints: named places where a test can have the process killed outright.

Crash-safety claims are only worth what a real ``kill -9`` at the worst moment
shows. ``LEDGER_FAILPOINTS="batch-stored@2,anchor-mined"`` makes the process
SIGKILL itself the 2nd time it passes ``batch-stored`` and the 1st time it
passes ``anchor-mined``. Unset (always, outside tests), a failpoint is one dict
lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "LEDGER_FAILPOINTS"


def _parse(spec: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nth = item.partition("@")
        points[name] = int(nth or 1)
    return points


_ARMED = _parse(os.environ.get(ENV, ""))
_HITS: dict[str, int] = {}
#: Processes killed first: a helper's failpoint is a crash of the command it serves.
_ALSO: list[int] = []


def also_kill(pid: int) -> None:
    """Have a failpoint hit in this process kill ``pid`` (the process it helps) first."""
    _ALSO.append(pid)


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is armed and its count is reached."""
    if name not in _ARMED:
        return
    _HITS[name] = _HITS.get(name, 0) + 1
    if _HITS[name] >= _ARMED[name]:
        for pid in _ALSO:
            os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
