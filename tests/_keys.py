"""API keys for tests whose subject is not ``ledger partner add``.

Made in-process with :func:`~ledger.store.apikeys.create_key`, the one call the
command makes after opening the store: the same key and row, for about 10 ms of
CPU instead of the command's 1.8 s (nearly all of it imports). The command itself
is tested by ``tests/api/test_partner_cli.py`` and ``tests/e2e/test_serve.py``.
"""

from __future__ import annotations

from pathlib import Path

from ledger.store import Store
from ledger.store.apikeys import create_key


def api_key(
    data_dir: Path,
    name: str,
    role: str,
    *,
    institution: str | None = None,
    db_url: str | None = None,
) -> str:
    """A new API key of ``role`` (a partner's bound to ``institution``), as
    ``ledger partner add`` makes it in the store of ``data_dir`` (or ``db_url``)."""
    store = Store.open(data_dir, db_url)
    try:
        return create_key(store, name, role, institution=institution)[1]
    finally:
        store.close()


def bearer(key: str) -> dict[str, str]:
    """The Authorization header that presents ``key``."""
    return {"Authorization": f"Bearer {key}"}
