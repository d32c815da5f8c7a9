"""A console served by a real ``ledger serve``: a deployed data dir, a key per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.test_serve import _env, serving


@dataclass
class Served:
    url: str
    data_dir: Path
    #: role or name -> the API key
    keys: dict[str, str] = field(default_factory=dict)


@contextmanager
def served(data_dir: Path, log: Path) -> Iterator[Served]:
    """``ledger serve`` over ``data_dir``, a deployed data dir."""
    with serving(_env(data_dir), log) as url:
        yield Served(url, data_dir)
