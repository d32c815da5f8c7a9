"""Every command of the README's "Auditing" section runs as written, on a submitted ledger."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

from ledger.records import synthetic_rows, write_csv
from tests.conftest import COMMAND_TIMEOUT, ledger_cli

REPO = Path(__file__).resolve().parents[2]


def auditing_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Auditing", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    return lines


def _ledger(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [ledger_cli(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def test_every_documented_audit_command_runs(tmp_path: Path) -> None:
    commands = auditing_commands()
    assert [shlex.split(c)[1] for c in commands] == ["export", "audit"]
    write_csv(synthetic_rows(30, seed=7), tmp_path / "portfolio.csv")
    for args in (("deploy",), ("submit", "portfolio.csv")):
        done = _ledger(tmp_path, *args, "--data-dir", "./.ledger")
        assert done.returncode == 0, done.stderr
    for line in commands:
        args = shlex.split(line)
        assert args[0] == ".venv/bin/ledger"
        done = _ledger(tmp_path, *args[1:])
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert "CLEAN" in done.stdout
    report = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert report["clean"] and report["checked"]["records"] > 0
    assert (tmp_path / "audit.html").read_text(encoding="utf-8").startswith("<!doctype html>")


def test_every_finding_code_the_readme_names_exists() -> None:
    from ledger.audit import CODES

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Auditing", 1)[1]
    named = set(re.findall(r"`([A-Z][A-Z_]+_[A-Z]+)`", section.split("\n## ", 1)[0]))
    assert named and named <= set(CODES), named - set(CODES)
