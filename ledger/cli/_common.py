"""What every command shares: options, settings, output and the one error handler."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from ledger.config import Settings
from ledger.errors import InputError, LedgerError
from ledger.store.db import Store, store_unavailable

#: Piped output is read by scripts and people alike: no wrapping at 80 columns.
_PIPE_WIDTH = 200
console = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err_console = Console(
    stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPE_WIDTH
)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="LEDGER_DATA_DIR",
        help="Data directory (keys, embedded chain, store). Default: ./.ledger",
        show_default=False,
    ),
]
RpcOpt = Annotated[
    str | None,
    typer.Option(
        "--rpc",
        envvar="LEDGER_RPC_URL",
        help="JSON-RPC node URL (anvil, geth, Besu), or several nodes of one chain "
        "comma-separated (fail-over). Default: the embedded eth-tester chain.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def settings_for(data_dir: Path | None, rpc: str | None = None) -> Settings:
    """Settings from the environment, overridden by the command's flags."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if rpc is not None:
        overrides["rpc_url"] = rpc
    return Settings(**overrides)


def exit_code_for(exc: LedgerError) -> int:
    """2 for bad input, 1 for everything else that failed."""
    return 2 if isinstance(exc, InputError) else 1


def fail(exc: LedgerError) -> NoReturn:
    """One line on stderr, then a non-zero exit."""
    line = f"error: {exc.message}"
    if exc.hint:
        line += f" ({exc.hint})"
    err_console.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(exit_code_for(exc))


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn any :class:`LedgerError` raised inside into :func:`fail`, and so a database
    that fails to answer (:func:`~ledger.store.db.store_unavailable`)."""
    try:
        yield
    except LedgerError as exc:
        fail(exc)
    except OperationalError as exc:
        fail(store_unavailable(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def ensure_data_dir(path: Path) -> None:
    """Create the data dir, private to its owner (it holds secrets)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


@contextmanager
def open_store(data_dir: Path | None, *, check_schema: bool = True) -> Iterator[Store]:
    """The store of the data dir (or of ``LEDGER_DB_URL``), closed at the end
    (``check_schema``: see :class:`~ledger.store.db.Store`)."""
    settings = settings_for(data_dir)
    if settings.db_url is None:
        ensure_data_dir(settings.data_dir)
    store = Store.for_settings(settings, check_schema=check_schema)
    try:
        yield store
    finally:
        store.close()


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run a command body under :func:`handle_errors`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with handle_errors():
            return fn(*args, **kwargs)

    return wrapper
