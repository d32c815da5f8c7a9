"""``ledger consent grant|revoke|check|show`` and ``ledger erase``, as real subprocesses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli._cli import one_error_line, run
from tests.consent.conftest import BANK, grant_json
from tests.records.sample import ID_NUMBER


def test_grant_check_show_revoke_erase(
    data_dir: Path, tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> None:
    env = {"LEDGER_DATA_DIR": str(deploy_copy(data_dir))}
    now = datetime.now(UTC).replace(microsecond=0)
    grant = grant_json(
        valid_from=(now - timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=30)).isoformat(),
    )
    (tmp_path / "consent.json").write_text(json.dumps(grant))

    done = run("consent", "grant", str(tmp_path / "consent.json"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    (consent,) = json.loads(done.stdout)
    consent_id = consent["consent_id"]
    assert consent["status"] == "recorded" and consent["on_chain"]["block_number"] > 0
    assert ID_NUMBER not in done.stdout

    subject_env = {**env, "LEDGER_SUBJECT_ID": ID_NUMBER}
    args = ("consent", "check", "--institution", BANK, "--purpose", "LOAN_APPROVAL")
    done = run(*args, "--json", env=subject_env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["granted"] and answer["consent_id"] == consent_id
    assert answer["on_chain"]["tx_hash"] == consent["on_chain"]["tx_hash"]

    refused = run(*args[:3], "OTHER", *args[4:], env=subject_env)
    assert refused.returncode == 1 and "refused (no_consent)" in refused.stdout

    shown = run("consent", "show", consent_id, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["chain_status"]["commitment"] == data["commitment"]
    assert data["receipt"]["subject"]["pseudonym"].startswith("0x")

    done = run("consent", "revoke", consent_id, env=env)
    assert done.returncode == 0 and "withdrawn consent" in done.stdout, done.stderr
    after = run(*args, env=subject_env)
    assert after.returncode == 1 and "refused (revoked)" in after.stdout

    erased = run("erase", "--json", env=subject_env)
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert (report["consents"], report["inquiries"]) == (1, 3)
    assert ID_NUMBER not in erased.stdout + erased.stderr
    again = run("erase", env=subject_env)
    assert "nothing is stored about this subject" in one_error_line(again)


def test_bad_input_is_one_line_without_the_value(data_dir: Path, tmp_path: Path) -> None:
    env = {"LEDGER_DATA_DIR": str(data_dir)}
    bad_id = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    grant = grant_json(subject={"id_type": "10", "id_number": bad_id})
    (tmp_path / "bad.json").write_text(json.dumps(grant))
    line = one_error_line(run("consent", "grant", str(tmp_path / "bad.json"), env=env))
    assert "check digit" in line and bad_id not in line
    line = one_error_line(run("erase", bad_id, env=env))
    assert "check digit" in line and bad_id not in line
    sharing = grant_json(separate_consent=False)
    (tmp_path / "share.json").write_text(json.dumps(sharing))
    line = one_error_line(run("consent", "grant", str(tmp_path / "share.json"), env=env))
    assert "separate_consent" in line
