"""``ledger alerts list|show|replay|summary|plan show``, as installed, over a real ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.alerts.plan import Plan
from ledger.records import write_jsonl
from tests._alert_book import BANK_A, BANK_B, february, january
from tests._keys import api_key
from tests.alerts._banks import Bank
from tests.cli._cli import one_error_line, run
from tests.conftest import copy_deployment

SUBCOMMANDS = (("list",), ("show",), ("replay",), ("summary",), ("plan", "show"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> dict[str, str]:
    """A deployed data dir after two months of the co-funded book (tests/_alert_book.py)."""
    root = tmp_path_factory.mktemp("alerts-cli")
    copy_deployment(deployed_template, root / "data")  # what `ledger deploy` leaves
    values = {
        "LEDGER_DATA_DIR": str(root / "data"),
        "LEDGER_ALERT_ALLOW_HOSTS": '["127.0.0.1"]',
        "LEDGER_ALERT_RETRY_SCHEDULE": "[60]",  # dispatch --once: one attempt each
    }
    for name, rows in (("jan", january()), ("feb", february())):
        write_jsonl(rows, root / f"{name}.jsonl")
        done = run("submit", str(root / f"{name}.jsonl"), env=values)
        assert done.returncode == 0, done.stderr
    for name, code in (("bank-a", BANK_A), ("bank-b", BANK_B)):
        api_key(root / "data", name, "partner", institution=code)  # not under test here
    return values


def _json(env: dict[str, str], *args: str) -> Any:
    done = run(*args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_command_has_help_with_an_example() -> None:
    for words in SUBCOMMANDS:
        done = run("alerts", *words, "--help")
        assert done.returncode == 0 and "Example: ledger alerts" in done.stdout, words


def test_list_every_bank_or_one_in_pages(env: dict[str, str]) -> None:
    every = _json(env, "alerts", "list")["alerts"]
    assert {a["institution"] for a in every} == {BANK_A, BANK_B}
    mine = [a for a in every if a["institution"] == BANK_A]
    first = _json(env, "alerts", "list", "--institution", BANK_A, "--limit", "2")
    rest = _json(env, "alerts", "list", "--institution", BANK_A, "--after", str(first["next"]))
    assert first["more"] and [a["id"] for a in first["alerts"] + rest["alerts"]] == [
        a["id"] for a in mine
    ]
    assert all(a["body"]["type"] == a["type"] for a in every)
    table = run("alerts", "list", "--institution", BANK_B, env=env)
    assert table.returncode == 0 and BANK_A not in table.stdout
    assert "overdue.bucket_rolled" in table.stdout and "40 dpd, warning" in table.stdout


def test_show_prints_body_attempts_and_ack(env: dict[str, str]) -> None:
    alert = _json(env, "alerts", "list", "--institution", BANK_B)["alerts"][0]
    shown = _json(env, "alerts", "show", alert["id"])
    assert shown["body"] == alert["body"] and shown["attempts"] == [] and shown["ack"] is None
    text = run("alerts", "show", alert["id"], env=env)
    assert text.returncode == 0
    assert "the bank has no webhook; it pulls" in text.stdout and "not acknowledged" in text.stdout
    assert alert["body"]["data"]["loan_ref"] in text.stdout


def test_replay_sends_the_same_id_again(env: dict[str, str]) -> None:
    bank = Bank().start()
    try:
        done = run("partner", "webhook", "set", BANK_A, bank.url, env=env)
        assert done.returncode == 0, done.stderr
        alert = _json(env, "alerts", "list", "--institution", BANK_A, "--limit", "1")["alerts"][0]
        # Queued before the bank had a webhook, it was never pushed: replay pushes it.
        replayed = _json(env, "alerts", "replay", alert["id"])
        assert (replayed["outcome"], replayed["previous"]) == ("queued", None)
        assert run("alerts", "dispatch", "--once", env=env).returncode == 0
        assert len(bank.requests_for(alert["id"])) == 1
        replayed = _json(env, "alerts", "replay", alert["id"])
        assert (replayed["outcome"], replayed["previous"]) == ("queued", "delivered")
        again = run("alerts", "replay", alert["id"], env=env)
        assert again.returncode == 0 and "queued for" in again.stdout and "already" in again.stdout
        assert run("alerts", "dispatch", "--once", env=env).returncode == 0
    finally:
        bank.stop()
    first, second = bank.requests_for(alert["id"])
    assert (first.webhook_id, first.body) == (second.webhook_id, second.body)
    shown = _json(env, "alerts", "show", alert["id"])
    assert [a["outcome"] for a in shown["attempts"]] == ["delivered", "delivered"]
    assert shown["delivery"]["state"] == "delivered"


def test_replay_to_a_bank_that_pulls_fails_with_one_line(env: dict[str, str]) -> None:
    alert = _json(env, "alerts", "list", "--institution", BANK_B, "--limit", "1")["alerts"][0]
    line = one_error_line(run("alerts", "replay", alert["id"], env=env))
    assert "no webhook endpoint" in line and "GET /v1/alerts?after=" in line


def test_summary_per_bank(env: dict[str, str]) -> None:
    report = _json(env, "alerts", "summary")
    banks = {b["institution"]: b for b in report["banks"]}
    every = _json(env, "alerts", "list")["alerts"]
    for code in (BANK_A, BANK_B):
        bank = banks[code]
        assert bank["alerts"] == sum(a["institution"] == code for a in every)
        assert (bank["level"], bank["level_name"]) == (3, "emergency")
        assert bank["by_type"]["overdue.bucket_rolled"] == 2
        assert set(bank["book"]) == {"warning"}
    assert [s["accepted"] for s in report["submissions"]] == [3, 3]
    assert report["anchor_lag"][0]["kind"] == 1
    text = run("alerts", "summary", env=env)
    assert text.returncode == 0
    for title in ("Banks (after lending)", "Consent checks", "Submissions", "Anchor lag"):
        assert title in text.stdout


def test_plan_show_the_default_or_a_file(env: dict[str, str], tmp_path: Path) -> None:
    assert _json(env, "alerts", "plan", "show") == Plan.load().to_json()
    text = run("alerts", "plan", "show", env=env)
    assert text.returncode == 0 and "emergency" in text.stdout and "m1_m2_roll_rate" in text.stdout
    mine = tmp_path / "plan.toml"
    mine.write_text('name = "strict"\nversion = 2\n[[level]]\nlevel = 1\nname = "normal"\n')
    shown = _json(env, "alerts", "plan", "show", "--plan", str(mine))
    assert (shown["name"], shown["version"], shown["thresholds"]) == ("strict", 2, [])
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\nversion = 1\n[[threshold]]\nmetric = "nope"\nabove = 1\nlevel = 2\n'
    )
    done = run("alerts", "plan", "show", "--plan", str(bad), env=env)
    assert "unknown threshold metric" in one_error_line(done) and done.returncode == 2


def test_bad_input_fails_with_one_line(env: dict[str, str]) -> None:
    unknown = run("alerts", "show", "msg_" + "0" * 32, env=env)
    assert "no alert" in one_error_line(unknown) and unknown.returncode == 1
    hostile = run("alerts", "show", "110101199003077777 or anything", env=env)
    assert "110101" not in one_error_line(hostile)
    bad_code = run("alerts", "list", "--institution", "not a code!", env=env)
    assert "institution code" in one_error_line(bad_code) and bad_code.returncode == 2
