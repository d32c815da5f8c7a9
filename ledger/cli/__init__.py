"""The ``ledger`` command line: one module per command group, errors handled in one place.

Public: :func:`run` (the console script) and :data:`app` (the Typer application,
for tests and embedding); they load on first use (:mod:`ledger._lazy`), so a
command group module imports without the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import _lazy

if TYPE_CHECKING:
    from ledger.cli.main import app, run

__all__ = ["app", "run"]

__getattr__ = _lazy.exports(__name__, {"app": "ledger.cli.main", "run": "ledger.cli.main"})
