"""The README's quick start is exactly two commands, and they work."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quick start has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_make_demo_and_make_test() -> None:
    assert quick_start_commands() == ["make demo", "make test"]


def test_make_demo_runs_the_flow() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CreditAnchor demo" in done.stdout
    assert "AnchorRegistry" in done.stdout
