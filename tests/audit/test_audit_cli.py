"""``ledger export`` and ``ledger audit`` as people run them: real processes, real exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger.chain import Deployment
from ledger.records.generate import synthetic_rows
from ledger.store import Batch
from tests._leaves import get_canonical, set_canonical
from tests.audit.conftest import ROWS, Populated, edit_store
from tests.cli._cli import one_error_line, run

WIDE = {"COLUMNS": "400"}


def _env(ledger: Populated) -> dict[str, str]:
    """The commands' environment: a wide terminal, and the store's URL when it has one."""
    return {**WIDE, **({"LEDGER_DB_URL": ledger.db_url} if ledger.db_url else {})}


def _audit(ledger: Populated, *args: str) -> Any:
    return run("audit", "--data-dir", str(ledger.data_dir), *args, env=_env(ledger))


def test_export_then_audit_clean_with_json_and_html_reports(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    done = run(
        "export", "-o", str(export), "--data-dir", str(ledger_dir.data_dir), env=_env(ledger_dir)
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 27 records" in done.stdout
    assert os.stat(export).st_mode & 0o777 == 0o600
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 27
    assert all(json.loads(line)["format"] == "credit-anchor/proof-bundle/v1" for line in lines)

    report, html = tmp_path / "audit.json", tmp_path / "audit.html"
    done = _audit(
        ledger_dir, "--records", str(export), "--report", str(report), "--html", str(html)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CLEAN" in done.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["clean"] is True and data["findings"] == []
    assert data["checked"]["records"] == 27
    assert "CreditAnchor audit: CLEAN" in html.read_text(encoding="utf-8")


def test_findings_exit_1_and_carry_no_personal_data(ledger_dir: Populated, tmp_path: Path) -> None:
    def tamper(s: Any) -> None:
        batch = s.scalars(select(Batch).where(Batch.kind == 1).order_by(Batch.seq)).first()
        data = get_canonical(s, batch.batch_id, 2) or b""
        set_canonical(s, batch.batch_id, 2, data.replace(b'"salt":"0x', b'"salt":"0X'))
        batch.root = "0x" + "ee" * 32

    edit_store(ledger_dir, tamper)
    report = tmp_path / "audit.json"
    done = _audit(ledger_dir, "--json", "--report", str(report))
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data == json.loads(report.read_text(encoding="utf-8"))
    assert {f["code"] for f in data["findings"]} == {"LEAF_RECORD_MISMATCH", "STORE_ROOT_MISMATCH"}
    text = done.stdout + done.stderr
    for row in synthetic_rows(ROWS, seed=11, invalid_ratio=0):
        for field in ("subject_id_number", "subject_name", "subject_mobile", "report_id"):
            if row.get(field):
                assert str(row[field]) not in text, field
    assert "pseudonym" not in text and "salt" not in text


def test_explicit_registries_and_db(ledger_dir: Populated, tmp_path: Path) -> None:
    deployment = Deployment.load(ledger_dir.data_dir / "deployment.json")
    done = _audit(
        ledger_dir,
        "--registry",
        deployment.anchor_registry,
        "--consent-registry",
        deployment.consent_registry,
        "--from-block",
        str(deployment.deployment_block),
        "--db",
        ledger_dir.db_url or f"sqlite:///{ledger_dir.data_dir / 'ledger.sqlite'}",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checked"]["store_batches"] == 4


def test_rebuild_then_audit_the_rebuilt_store(ledger_dir: Populated, tmp_path: Path) -> None:
    """The README's ``--rebuild URL``, then ``--db`` on what it wrote: clean, and said to be a
    rebuild."""
    export = tmp_path / "export.jsonl"
    done = run(
        "export", "-o", str(export), "--data-dir", str(ledger_dir.data_dir), env=_env(ledger_dir)
    )
    assert done.returncode == 0, done.stderr
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    done = _audit(ledger_dir, "--records", str(export), "--rebuild", rebuilt, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["checked"]["rebuilt_leaves"] == 27
    done = _audit(ledger_dir, "--db", rebuilt)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CLEAN" in done.stdout
    assert "this store is an audit's rebuild" in " ".join(done.stdout.split())


def test_checkpoint_resumes_and_refuses_another_chain(
    ledger_dir: Populated, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "audit.checkpoint.json"
    first = _audit(ledger_dir, "--checkpoint", str(checkpoint), "--range", "2", "--json")
    assert first.returncode == 0, first.stderr
    saved = json.loads(checkpoint.read_text(encoding="utf-8"))
    assert saved["format"] == "credit-anchor/audit-checkpoint/v1"
    assert len(saved["anchors"]) == 4 and saved["count"] == 4
    second = _audit(ledger_dir, "--checkpoint", str(checkpoint), "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["checked"]["anchors"] == 4
    # It really resumes from the file: a corrupted checkpoint shows, it never passes clean.
    checkpoint.write_text(json.dumps({**saved, "log_head": "0x" + "00" * 32}), encoding="utf-8")
    third = _audit(ledger_dir, "--checkpoint", str(checkpoint), "--json")
    assert third.returncode == 1
    assert {f["code"] for f in json.loads(third.stdout)["findings"]} == {"CHAIN_LOG_HEAD_MISMATCH"}

    saved["anchor_registry"] = "0x" + "11" * 20
    checkpoint.write_text(json.dumps(saved), encoding="utf-8")
    line = one_error_line(_audit(ledger_dir, "--checkpoint", str(checkpoint)))
    assert "checkpoint" in line


def test_cannot_audit_exits_2_with_one_line(tmp_path: Path) -> None:
    done = run("audit", "--data-dir", str(tmp_path / "nothing-here"))
    assert done.returncode == 2
    assert "could not audit" in one_error_line(done)
    done = run("audit", "--data-dir", str(tmp_path), "--registry", "0x" + "11" * 20)
    assert done.returncode == 2
    assert "--consent-registry" in one_error_line(done)
