"""Verified API keys, remembered for a moment so a request need not read the store.

Keys are revoked by ``ledger partner revoke``, another process, so the cache
cannot be told: each entry lives ``ttl`` seconds (``LEDGER_API_KEY_CACHE_SECONDS``),
and a revoked key stops working within that time. Only live keys are kept, so a
key added a moment ago works at once. Requests that miss together share one
store lookup. Entries are keyed by the SHA-256 of the presented key: the key
itself is never kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from starlette.concurrency import run_in_threadpool

from ledger.store.apikeys import KeyInfo

#: Entries kept at most; there are a handful of live keys, so this only bounds memory.
MAX_ENTRIES: Final = 1024
Lookup = Callable[[str], KeyInfo | None]


class KeyCache:
    """SHA-256 of a presented key -> its :class:`KeyInfo`, for ``ttl`` seconds."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, KeyInfo]] = {}
        self._pending: dict[str, asyncio.Task[KeyInfo | None]] = {}

    def get(self, presented: str) -> KeyInfo | None:
        """The cached live key, or None when unknown here or older than ``ttl``."""
        entry = self._entries.get(presented)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            self._entries.pop(presented, None)
            return None
        return entry[1]

    def put(self, presented: str, key: KeyInfo) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # rare: only live keys get here
        self._entries[presented] = (self._clock() + self.ttl, key)

    async def key(self, presented: str, lookup: Lookup) -> KeyInfo | None:
        """The live key with hash ``presented``: cached, or from ``lookup`` (in a thread)."""
        cached = self.get(presented)
        if cached is not None:
            return cached
        task = self._pending.get(presented)
        if task is None:
            task = asyncio.create_task(self._fetch(presented, lookup))
            self._pending[presented] = task
        # shield: one caller going away must not cancel the lookup the others wait for
        return await asyncio.shield(task)

    async def _fetch(self, presented: str, lookup: Lookup) -> KeyInfo | None:
        try:
            key = await run_in_threadpool(lookup, presented)
            if key is not None:
                self.put(presented, key)
            return key
        finally:
            self._pending.pop(presented, None)
