"""The README's "Risk warning for co-lending banks" section, run as written.

Its commands run in order in a fresh directory; the only changes are the
placeholders: the bank's webhook URL becomes a real receiving bank on loopback
(allowlisted with ``LEDGER_ALERT_ALLOW_HOSTS``, as plain http needs), and
ALERT_ID the id of one of its alerts. The section's Python receiver then checks
what that bank really received, with the keys ``webhook set`` printed.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from ledger.records import write_csv
from tests._alert_book import BANK_A, february, january
from tests.alerts._banks import Bank
from tests.e2e.test_readme import REPO, _ledger, section_commands

TITLE = "Risk warning for co-lending banks"
EXAMPLE_URL = "https://risk.bank-a.example/hooks/credit-anchor"
ENV = {"LEDGER_ALERT_ALLOW_HOSTS": '["127.0.0.1"]'}


def receiver_snippet() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split(f"## {TITLE}", 1)[1]
    section = section.split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return str(block)


def test_the_risk_warning_section_runs_as_written(tmp_path: Path) -> None:
    commands = section_commands(TITLE)
    assert len(commands) == 10
    assert any(BANK_A in line for line in commands)
    write_csv(january(), tmp_path / "portfolio-2025-01.csv")
    write_csv(february(), tmp_path / "portfolio-2025-02.csv")
    assert _ledger(tmp_path, "deploy", "--data-dir", "./.ledger").returncode == 0
    bank = Bank().start()
    outputs: dict[str, str] = {}
    alert_id = None
    try:
        for line in commands:
            if "ALERT_ID" in line and alert_id is None:
                listed = _ledger(tmp_path, "alerts", "list", "--institution", BANK_A,
                                 "--json", "--data-dir", "./.ledger")  # fmt: skip
                alert_id = json.loads(listed.stdout)["alerts"][0]["id"]
            args = shlex.split(
                line.replace(EXAMPLE_URL, bank.url).replace("ALERT_ID", str(alert_id))
            )
            assert args[0] == ".venv/bin/ledger"
            done = _ledger(tmp_path, *args[1:], env=ENV)
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            outputs[" ".join(args[1:3])] = done.stdout
    finally:
        bank.stop()
    assert "emergency" in outputs["alerts plan"]
    assert "overdue.bucket_rolled" in outputs["alerts list"]
    assert (
        "queued" in outputs["alerts replay"]
        and "Banks (after lending)" in outputs["alerts summary"]
    )
    delivered = [r for r in bank.received if 200 <= r.status < 300]
    assert {r.webhook_id for r in delivered} == set(_ids(outputs))
    _check_with_the_readme_receiver(outputs["partner webhook"], delivered)


def _ids(outputs: dict[str, str]) -> list[str]:
    return re.findall(r"msg_[0-9a-f]{32}", outputs["alerts list"])


def _check_with_the_readme_receiver(issued: str, delivered: list[Any]) -> None:
    secret = re.search(r"whsec_\S+", issued)
    public_key = re.search(r"whpk_\S+", issued)
    assert secret and public_key
    code = (
        receiver_snippet()
        .replace("whsec_...", secret.group())
        .replace("whpk_...", public_key.group())
    )
    kept: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {"keep": kept.append}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    on_alert = namespace["on_alert"]
    for r in delivered:
        headers = {"webhook-id": r.webhook_id, "webhook-timestamp": r.timestamp,
                   "webhook-signature": r.signature}  # fmt: skip
        assert on_alert(headers, r.body) == 204
        assert on_alert(headers, r.body) == 200  # the same id again: a replay
        forged = {**headers, "webhook-id": r.webhook_id + "x"}
        assert on_alert(forged, r.body) == 400
        assert on_alert({**headers, "webhook-id": r.webhook_id + "y"}, r.body + b" ") == 400
    assert [a["type"] for a in kept] == [json.loads(r.body)["type"] for r in delivered]
