"""A small HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

Used by ``bench.py`` for the API figures. It runs in its own process (so it does
not share the server's interpreter) and drives the trivial endpoint and the real
one the same way, so their ratio is fair on a shared machine.

Usage: python scripts/loadgen.py URL --connections 50 --seconds 10 [--body FILE] [--header H]
Prints one JSON object: requests, errors, rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def build_request(url: str, body: bytes | None, headers: list[str]) -> bytes:
    parts = urlsplit(url)
    method = "POST" if body is not None else "GET"
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def worker(
    url: str, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


async def run(url: str, request: bytes, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(worker(url, request, deadline, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else 0.0,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2) if ordered else 0.0,
    }


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
    result = asyncio.run(run(args.url, request, args.connections, args.seconds))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
