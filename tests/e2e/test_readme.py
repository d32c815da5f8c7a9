"""The README's quick start is exactly two commands, and they work."""

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
        timeout=2 * COMMAND_TIMEOUT,  # make setup, then the several commands of the demo
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CreditAnchor demo" in done.stdout
    assert "AnchorRegistry" in done.stdout
    # The risk warning: a bank's webhook got signed alerts, verified them, acknowledged one.
    assert re.search(
        r"\d+ signed alert\(s\) received and verified "
        r"\([1-9]\d* overdue\.bucket_rolled, 0 refused\)",
        done.stdout,
    ), done.stdout
    assert "10. ack     its proof bundle verifies" in done.stdout
    # It ends with where the console would be served and how to open it.
    assert "11. console http://127.0.0.1:8000/ui/" in done.stdout
    assert "serve it:   ledger serve --data-dir" in done.stdout
    assert "open it:    xdg-open http://127.0.0.1:8000/ui/" in done.stdout


def using_it_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    return lines


def test_every_documented_ledger_command_runs(tmp_path: Path) -> None:
    """Each `ledger` line of the README's "Using it", run as written (paths made local).

    The anvil lines have their own section, run verbatim by tests/e2e/test_readme_anvil.py.
    """
    commands = using_it_commands()
    assert len(commands) >= 5
    write_csv(synthetic_rows(40, seed=2026), tmp_path / "portfolio.csv")
    verified = []
    for line in commands:
        args = shlex.split(line)
        assert args[0] == ".venv/bin/ledger"
        done = _ledger(tmp_path, *args[1:])
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        if args[1] == "verify":
            verified.append(done.stdout)
    assert verified and all("VALID" in out for out in verified)


def _ledger(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [ledger_cli(), *args],
        cwd=cwd,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def section_commands(title: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    return lines


def test_every_documented_consent_command_runs(tmp_path: Path) -> None:
    """The consent section as written: grant, check, show, revoke, erase."""
    from datetime import UTC, datetime, timedelta

    from tests.consent.conftest import grant_json

    commands = section_commands("Consents, inquiries and erasure")
    assert len(commands) == 5
    assert _ledger(tmp_path, "deploy", "--data-dir", "./.ledger").returncode == 0
    now = datetime.now(UTC).replace(microsecond=0)
    subject_id = commands[1].split()[0].split("=", 1)[1]
    grant = grant_json(
        subject={"id_type": "10", "id_number": subject_id},
        valid_from=(now - timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=1)).isoformat(),
    )
    (tmp_path / "consent.json").write_text(json.dumps(grant))
    consent_id = None
    outputs = []
    for line in commands:
        args = shlex.split(line.replace("CONSENT_ID", str(consent_id)))
        env = dict(a.split("=", 1) for a in args if re.fullmatch(r"[A-Z_]+=.*", a))
        args = [a for a in args if not re.fullmatch(r"[A-Z_]+=.*", a)]
        assert args[0] == ".venv/bin/ledger"
        done = _ledger(tmp_path, *args[1:], env=env)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
        if consent_id is None:
            consent_id = re.search(r"recorded consent (0x[0-9a-f]{64})", done.stdout).group(1)  # type: ignore[union-attr]
    assert "granted (valid)" in outputs[1]
    assert "erased" in outputs[4] and subject_id not in "".join(outputs)
