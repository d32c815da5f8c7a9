"""On-chain consent statuses, cached until a transaction may have changed them.

A check reads a consent's status from the ConsentRegistry; :class:`StatusCache`
keeps the answers and follows the chain head so that a status is read again
only when a ConsentRegistry transaction may have changed it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import AbstractContextManager
from typing import Any, Final

from ledger.chain.registry import ConsentRegistryClient
from ledger.chain.types import ConsentRecord
from ledger.consent.receipt import unhex

log = logging.getLogger(__name__)

#: Seconds a check trusts the last look at the chain's head block.
STATUS_MAX_AGE: Final = 0.2
#: Blocks whose logs the status cache reads to follow the head; beyond, it starts over.
MAX_FOLLOWED_BLOCKS: Final = 5000
#: ``StatusCache.get(..., cached_only=True)`` could not answer without the chain.
NEEDS_CHAIN: Final = object()


class StatusCache:
    """On-chain consent statuses, valid until a transaction may have changed them.

    A status changes only by a ConsentRegistry transaction. The head block is
    looked at most every ``max_age`` seconds; when it moved, the registry's logs
    of the new blocks say which consents changed, and only those are dropped
    (anchors of inquiry batches, which move the head all the time, change none).
    Another writer's withdrawal is seen within ``max_age`` plus its block time;
    this process's own withdrawals count at once, from the store. When the logs
    cannot say (an unknown log, a head that went back, too many blocks at once)
    everything is dropped. Unknown consents are never cached: they may be
    recorded any moment. A ``cached_only`` caller (the event loop) never reads
    the chain: when the cache is stale it starts a thread that follows the head,
    and answers from the cache meanwhile, as request threads do.
    """

    def __init__(
        self,
        registry: ConsentRegistryClient,
        lock: AbstractContextManager[Any],
        max_age: float = STATUS_MAX_AGE,
    ) -> None:
        self.registry = registry
        self.lock = lock
        self.max_age = max_age
        self._head = -1
        self._looked = -math.inf
        self._known: dict[str, ConsentRecord] = {}
        self._following = threading.Lock()
        self._failed = False  # the last look at the head raised: read the chain again

    def get(self, consent_id: str, *, cached_only: bool = False) -> ConsentRecord | object | None:
        """The status (None: not on chain); :data:`NEEDS_CHAIN` if ``cached_only`` cannot say."""
        now = time.monotonic()
        if now - self._looked >= self.max_age:
            if cached_only:
                # The event loop never reads the chain: a thread follows the head
                # while the cache answers, as it does for the other threads below.
                # Until one look succeeded (or after a look failed) it cannot say.
                if self._head < 0 or self._failed:
                    return NEEDS_CHAIN
                self._follow_in_background()
            # One thread follows the head; the others answer from the cache meanwhile
            # (only the very first look is waited for), instead of all queueing for
            # the chain behind whatever transaction holds it.
            elif self._following.acquire(blocking=self._head < 0 or self._failed):
                try:
                    if self._failed or time.monotonic() - self._looked >= self.max_age:
                        self._follow_head(now)
                finally:
                    self._following.release()
        known = self._known.get(consent_id.lower())
        if known is not None:
            return known
        if cached_only:
            return NEEDS_CHAIN
        with self.lock:
            # Threads that missed together queue here: only the first reads the chain.
            known = self._known.get(consent_id.lower())
            if known is not None:
                return known
            status = self.registry.status(unhex(consent_id))
            if status is not None:
                self._known[consent_id.lower()] = status
        return status

    def _follow_in_background(self) -> None:
        if not self._following.acquire(blocking=False):
            return  # a look is under way

        def follow() -> None:
            try:
                if time.monotonic() - self._looked >= self.max_age:
                    self._follow_head(time.monotonic())
            except Exception as exc:  # a request thread meets it again, and answers it
                cause = getattr(exc, "code", type(exc).__name__)  # never the message: URLs
                log.warning("consent statuses: following the chain head failed: %s", cause)
            finally:
                self._following.release()

        threading.Thread(target=follow, name="consent-status-follow", daemon=True).start()

    def _follow_head(self, now: float) -> None:
        try:
            self._look(now)
        except BaseException:
            self._failed = True
            raise
        self._failed = False

    def _look(self, now: float) -> None:
        with self.lock:
            head = self.registry.chain.block_number()
            if head == self._head:
                self._looked = now
                return
            changed = None
            if 0 <= self._head < head <= self._head + MAX_FOLLOWED_BLOCKS:
                changed = self.registry.changed(self._head + 1, head)
        if changed is None:
            self._known = {}
        else:
            for consent_id in changed:
                self._known.pop("0x" + consent_id.hex(), None)
        self._head = head
        self._looked = now

    def clear(self) -> None:
        self._known = {}
        self._looked = -math.inf
