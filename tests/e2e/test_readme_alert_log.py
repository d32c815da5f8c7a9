"""The README's "The alert log and its audit" section, run as written.

Its commands run in order in a fresh directory holding two months of a co-funded
book; the only changes are the placeholders (ALERT_ID becomes one of bank A's
alerts, ``risk-plan.toml`` a copy of the default plan). Its last command, the
move of a deployment made before kind 4, is then run again where it is needed:
in a data dir whose AnchorRegistry takes kinds 1-3 only.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from ledger.alerts.plan import DEFAULT_PLAN
from ledger.chain import Deployment
from ledger.chain.deploy import ALERT_LOG_REGISTRY
from ledger.records import write_csv
from tests._alert_book import BANK_A, february, january
from tests.chain.test_alert_log_registry import deploy_before_kind_4
from tests.e2e.test_readme import _ledger, section_commands

TITLE = "The alert log and its audit"
#: Entries are due at once (the default waits a minute for more to come).
DUE = {"LEDGER_ALERT_SEAL_SECONDS": "0.001"}


def _book(cwd: Path) -> None:
    write_csv(january(), cwd / "jan.csv")
    write_csv(february(), cwd / "feb.csv")
    for name in ("jan.csv", "feb.csv"):
        done = _ledger(cwd, "submit", name, "--data-dir", "./.ledger")
        assert done.returncode == 0, done.stderr


def _run(cwd: Path, line: str) -> str:
    args = shlex.split(line)
    assert args[0] == ".venv/bin/ledger"
    done = _ledger(cwd, *args[1:], env=DUE)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_alert_log_section_runs_as_written(tmp_path: Path) -> None:
    commands = section_commands(TITLE)
    assert len(commands) == 5
    assert _ledger(tmp_path, "deploy", "--data-dir", "./.ledger").returncode == 0
    _book(tmp_path)
    shutil.copy(DEFAULT_PLAN, tmp_path / "risk-plan.toml")
    listed = _ledger(tmp_path, "alerts", "list", "--institution", BANK_A, "--json",
                     "--data-dir", "./.ledger")  # fmt: skip
    alert_id = json.loads(listed.stdout)["alerts"][0]["id"]
    outputs = [_run(tmp_path, line.replace("ALERT_ID", alert_id)) for line in commands]
    sealed, _, verified, audited, moved = outputs
    assert "sealed 1 alert log batch" in sealed
    assert verified.startswith("VALID")
    assert "CLEAN" in audited and "alert log entries" in audited
    assert "Already deployed" in moved  # this deployment took kind 4 from the start
    bundle = json.loads((tmp_path / "alert.bundle.json").read_text(encoding="utf-8"))
    assert bundle["record"]["entry_id"] == alert_id
    assert bundle["record"]["institution"] == BANK_A

    before = tmp_path / "before"
    (before / ".ledger").mkdir(mode=0o700, parents=True)
    deploy_before_kind_4(before / ".ledger")
    assert "Deployed" in _run(before, commands[-1])
    assert ALERT_LOG_REGISTRY in Deployment.load(before / ".ledger" / "deployment.json").registries
    _book(before)
    assert "sealed 1 alert log batch" in _run(before, commands[0])
