"""Verified keys are remembered briefly: a revoked key stops working within the TTL."""

from __future__ import annotations

import asyncio
import time

import httpx

from api.config import ApiSettings
from api.keycache import KeyCache
from ledger.store import Store
from ledger.store.apikeys import KeyInfo, Role, create_key, revoke_key
from tests.api.conftest import Api
from tests.conftest import WAIT_SECONDS, wait_until

INFO = KeyInfo("bank-a", Role.PARTNER, "X", "2026-11-26T04:00:00Z", None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = KeyCache(1.0, clock=clock)
    cache.put("h", INFO)
    clock.now += 0.99
    assert cache.get("h") == INFO
    clock.now += 0.01
    assert cache.get("h") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = KeyCache(0.0)
    cache.put("h", INFO)
    assert cache.get("h") is None


def test_concurrent_misses_share_one_lookup_and_failures_are_not_cached() -> None:
    calls: list[str] = []

    def lookup(presented: str) -> KeyInfo | None:
        calls.append(presented)
        time.sleep(0.05)
        return INFO if presented == "live" else None

    async def run() -> tuple[list[KeyInfo | None], list[KeyInfo | None]]:
        cache = KeyCache(60.0)
        live = await asyncio.gather(*(cache.key("live", lookup) for _ in range(20)))
        dead = [await cache.key("dead", lookup) for _ in range(2)]
        return live, dead

    live, dead = asyncio.run(run())
    assert live == [INFO] * 20 and dead == [None, None]
    assert calls == ["live", "dead", "dead"]


def test_a_key_revoked_by_another_process_stops_working_within_the_ttl(api: Api) -> None:
    store = Store.for_settings(api.settings)  # as `ledger partner revoke` would
    try:
        _, key = create_key(store, "short-lived", "auditor")
        headers = {"Authorization": f"Bearer {key}"}
        body = {"leaf_hashes": ["0x" + "00" * 32]}
        assert api.client.post("/v1/verify", json=body, headers=headers).status_code == 200
        revoke_key(store, "short-lived")
    finally:
        store.close()

    def refused() -> httpx.Response | None:
        answer = api.client.post("/v1/verify", json=body, headers=headers)
        return None if answer.status_code == 200 else answer

    # Remembered for key_cache_seconds (the TTL's own bound: test_entries_expire_after_the_ttl).
    assert ApiSettings().key_cache_seconds < WAIT_SECONDS
    answer = wait_until(refused, interval=0.05)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
