"""A small HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

Used by ``bench.py`` for the API figures. It runs in its own process (so it does
not share the server's interpreter) and drives the trivial endpoint and the real
one the same way, so their ratio is fair on a shared machine.

Usage: python scripts/loadgen.py URL --connections 50 --seconds 10 [--body FILE] [--header H]
Prints one JSON object: requests, errors, rps, seconds, p50_ms, p99_ms, p99_all_ms.

Latency percentiles are of the kept-alive connections' steady state: a
connection's first answer also waits for the server to set up all the
connections opened at once (up to hundreds of milliseconds here), which a
client that keeps its connections pays once, not per request. ``p99_all_ms``
counts those first answers too; ``requests`` and ``rps`` always count every answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import uvloop  # a dependency of the API server: the generator uses the same loop


def build_request(url: str, body: bytes | None, headers: list[str]) -> bytes:
    parts = urlsplit(url)
    method = "POST" if body is not None else "GET"
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Connection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` again as soon as an answer is in.

    A protocol, not streams: the generator's own cost per request stays small,
    so on a shared machine more of the measured latency is the server's.
    """

    def __init__(self, request: bytes, deadline: float, stats: Stats) -> None:
        self.request, self.deadline, self.stats = request, deadline, stats
        self.buffer = bytearray()
        self.started = 0.0
        self.first = True  # the connection's first answer is not the steady state
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, only alike.
        self.transport = cast(asyncio.WriteTransport, transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        # A bytearray, not bytes: a 27 MB answer comes in hundreds of pieces, and
        # appending each to an immutable buffer would copy it over and over.
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            now = time.perf_counter()
            (self.stats.firsts if self.first else self.stats.latencies).append(now - self.started)
            self.first = False
            if int(head.split(b" ", 2)[1]) >= 400:
                self.stats.errors += 1
            if now >= self.deadline:
                assert self.transport is not None
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        #: Each connection's first answer (see the module docstring).
        self.firsts: list[float] = []
        self.errors = 0


async def worker(url: str, request: bytes, deadline: float, stats: Stats) -> None:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: Connection(request, deadline, stats), parts.hostname, parts.port
    )
    await conn.done


async def run(url: str, request: bytes, connections: int, seconds: float) -> dict[str, float]:
    stats = Stats()
    start = time.perf_counter()
    deadline = start + seconds
    # A server that stops answering fails the run instead of hanging it.
    await asyncio.wait_for(
        asyncio.gather(*(worker(url, request, deadline, stats) for _ in range(connections))),
        seconds + 60,
    )
    elapsed = time.perf_counter() - start
    steady = sorted(stats.latencies)
    every = sorted(stats.latencies + stats.firsts)
    return {
        "requests": len(every),
        "errors": stats.errors,
        "rps": round(len(every) / elapsed, 1),
        "seconds": round(elapsed, 3),
        "p50_ms": round(statistics.median(steady) * 1000, 2) if steady else 0.0,
        "p99_ms": _p99_ms(steady),
        "p99_all_ms": _p99_ms(every),
    }


def _p99_ms(ordered: list[float]) -> float:
    return round(ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000, 2) if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--body", type=Path, help="POST this file's bytes as JSON")
    parser.add_argument("--header", action="append", default=[], help="extra header line")
    args = parser.parse_args(argv)
    body = args.body.read_bytes() if args.body else None
    request = build_request(args.url, body, args.header)
    result = uvloop.run(run(args.url, request, args.connections, args.seconds))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
