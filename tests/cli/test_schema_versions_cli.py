"""Acceptance, as a user runs it: v1 and v2 files submitted side by side on one data dir (both
anchored, a bundle of each verifies on chain), ``ledger submit --from pboc-210`` naming a
wrong code by its item, and ``ledger convert`` writing the golden files both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli._cli import one_error_line, run
from tests.conftest import copy_deployment
from tests.records.test_golden_v1 import GOLDEN as GOLDEN_V1
from tests.records.test_pboc210 import PBOC_CSV, PBOC_JSON, V2


def submitted(*args: str) -> dict[str, Any]:
    done = run("submit", *args, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_v1_and_v2_files_side_by_side_both_anchor_and_verify(
    deployed_template: Path, tmp_path: Path
) -> None:
    data = copy_deployment(deployed_template, tmp_path / "data")
    v1 = submitted(str(GOLDEN_V1 / "v1.jsonl"), "--data-dir", str(data))
    v2 = submitted(str(V2), "--data-dir", str(data))
    assert (v1["accepted"], v1["rejected"]) == (3, 0)
    assert (v2["accepted"], v2["rejected"]) == (5, 0)
    assert [b["status"] for b in v1["batches"] + v2["batches"]] == ["anchored", "anchored"]
    for record_id, version in (("RPT-0002", None), ("RPT-2002", 2), ("RPT-2003", 2)):
        out = tmp_path / f"{record_id}.bundle.json"
        done = run("bundle", record_id, "--data-dir", str(data), "-o", str(out))
        assert done.returncode == 0, done.stderr
        record = json.loads(out.read_text(encoding="utf-8"))["record"]
        assert record.get("schema_version") == version
        verified = run("verify", str(out), "--data-dir", str(data))
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("VALID")
    audited = run("audit", "--data-dir", str(data))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "CLEAN" in audited.stdout


def test_submit_from_pboc_210_names_a_wrong_code_by_its_item(
    deployed_template: Path, tmp_path: Path
) -> None:
    data = copy_deployment(deployed_template, tmp_path / "data")
    rows = json.loads(PBOC_JSON.read_text(encoding="utf-8"))
    rows[1]["AcctStatus"] = "9"
    rows[2]["RptDateCode"] = "50"
    path = tmp_path / "loans.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    report = submitted(str(path), "--from", "pboc-210", "--data-dir", str(data))
    assert (report["accepted"], report["rejected"]) == (3, 2)
    assert [(r["row"], r["field"]) for r in report["rejections"]] == [
        (2, "AcctStatus"),
        (3, "RptDateCode"),
    ]
    assert report["batches"][0]["status"] == "anchored"
    fresh = copy_deployment(deployed_template, tmp_path / "fresh")  # the same record ids again
    csv_report = submitted(str(PBOC_CSV), "--from", "pboc-210", "--data-dir", str(fresh))
    assert (csv_report["accepted"], csv_report["rejected"]) == (5, 0)


def test_submit_from_pboc_210_refuses_an_unknown_item_in_one_line(
    deployed_template: Path, tmp_path: Path
) -> None:
    data = copy_deployment(deployed_template, tmp_path / "data")
    rows = json.loads(PBOC_JSON.read_text(encoding="utf-8"))
    rows[4]["ArlpCertNum"] = "110101199003070011"
    path = tmp_path / "loans.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    done = run("submit", str(path), "--from", "pboc-210", "--data-dir", str(data))
    line = one_error_line(done)
    assert "row 5: ArlpCertNum: a related party's identity is not accepted" in line
    assert "110101199003070011" not in done.stdout + done.stderr
    other = run("submit", str(path), "--from", "metro2", "--data-dir", str(data))
    assert "--from takes pboc-210" in one_error_line(other)


def test_convert_writes_the_golden_files_both_ways(tmp_path: Path) -> None:
    json_out, csv_out, back = tmp_path / "a.json", tmp_path / "a.csv", tmp_path / "b.jsonl"
    for args in (
        (str(V2), "--to", "pboc-210", "-o", str(json_out)),
        (str(V2), "--to", "pboc-210", "--csv", "-o", str(csv_out)),
        (str(PBOC_JSON), "--from", "pboc-210", "-o", str(back)),
    ):
        done = run("convert", *args)
        assert done.returncode == 0, done.stderr
    assert json_out.read_bytes() == PBOC_JSON.read_bytes()
    assert csv_out.read_bytes() == PBOC_CSV.read_bytes()
    lines = back.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        json.loads(line) for line in V2.read_text(encoding="utf-8").splitlines()
    ]


def test_convert_refuses_in_one_line(tmp_path: Path) -> None:
    neither = run("convert", str(V2))
    assert "give one of --to pboc-210 or --from pboc-210" in one_error_line(neither)
    rows = [json.loads(line) for line in V2.read_text(encoding="utf-8").splitlines()]
    rows[1]["account_status"] = "9"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    out = tmp_path / "out.json"
    done = run("convert", str(bad), "--to", "pboc-210", "-o", str(out))
    assert "row 2: account_status: must be one of" in one_error_line(done)
    assert not out.exists()  # nothing half-written
