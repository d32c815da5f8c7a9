"""The benchmark's load generator counts answers and errors from a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def trivial() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_trivial:app", "--app-dir", str(SCRIPTS),
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/docs", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _load(url: str, body: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "loadgen.py"), url, "--connections", "4",
         "--seconds", "0.5", "--body", str(body)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def test_answers_are_counted_and_timed(trivial: str, tmp_path: Path) -> None:
    (tmp_path / "noop.json").write_text("{}")
    result = _load(trivial + "/noop", tmp_path / "noop.json")
    assert result["requests"] > 20
    assert result["errors"] == 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["rps"] > 0


def test_error_answers_are_counted_as_errors(trivial: str, tmp_path: Path) -> None:
    (tmp_path / "noop.json").write_text("{}")
    result = _load(trivial + "/no-such-path", tmp_path / "noop.json")
    assert result["requests"] > 20
    assert result["errors"] == result["requests"]
