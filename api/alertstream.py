"""The alert stream of ``GET /v1/alerts/stream``: Server-Sent Events read from the outbox.

One event per alert, in ``seq`` order: ``id:`` its seq (the cursor a reconnecting
client sends back as ``Last-Event-ID``), ``event:`` its type, ``data:`` its body (the
exact webhook body, one line of RFC 8785 JSON). The stream reads a page at a time
and yields it event by event; FastAPI's event-source response holds at most one
event in its buffer, and the generator does not read the next page before the
client has taken this one, so a slow client costs one page of memory, never more.
An idle stream looks for new alerts every ``alert_stream_poll_seconds`` and sends a
comment line every ``alert_stream_heartbeat_seconds``; it ends after
``alert_stream_seconds`` (the ``retry:`` field tells the client when to come back)
or when the client goes away. At most ``alert_stream_max_clients`` are open per
process (503 with Retry-After beyond).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from fastapi.sse import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.config import ApiSettings
from ledger.alerts.outbox import StoredAlert
from ledger.errors import UnavailableError

#: Alerts read per query: a page is what the stream holds at once.
PAGE: Final = 100
#: Milliseconds a client waits before reconnecting after the stream ends (``retry:``).
RECONNECT_MS: Final = 1000

#: Reads the alerts after a cursor: ``(cursor, limit) -> alerts``, run in a thread.
Reader = Callable[[int, int], list[StoredAlert]]


class StreamSlots:
    """Counts open streams (on the event loop, so a plain counter)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> None:
        if self.open >= self.limit:
            raise UnavailableError(f"{self.limit} alert streams are open; retry later")
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1


async def alert_events(
    read: Reader,
    cursor: int,
    limits: ApiSettings,
    gone: Callable[[], Awaitable[bool]],
) -> AsyncIterator[ServerSentEvent]:
    """The events after ``cursor``, then new ones as they come, until the stream's time
    is up or ``gone()`` (awaitable: the client disconnected) says so."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limits.alert_stream_seconds
    yield ServerSentEvent(comment=f"alerts after {cursor}", retry=RECONNECT_MS)
    last_sent = loop.time()
    while loop.time() < end:
        page = await run_in_threadpool(read, cursor, PAGE)
        for alert in page:
            yield ServerSentEvent(raw_data=alert.body.decode(), event=alert.type, id=str(alert.seq))
            cursor = alert.seq
        if len(page) == PAGE:
            continue  # more wait: read on at once
        now = loop.time()
        if page:
            last_sent = now
        elif now - last_sent >= limits.alert_stream_heartbeat_seconds:
            yield ServerSentEvent(comment="heartbeat")
            last_sent = now
        if await gone():
            return
        await asyncio.sleep(min(limits.alert_stream_poll_seconds, max(0.0, end - loop.time())))
