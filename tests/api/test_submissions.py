"""``POST /v1/submissions``: raw rows through the same pipeline as ``ledger submit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.routers.submissions import SPOOL_DIR
from ledger.config import Settings
from ledger.records import PERSONAL_FIELDS, write_jsonl
from tests._canaries import files_under
from tests.api.conftest import ROWS, Api, raw_rows


def submit(api: Api, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = api.client.post(
        "/v1/submissions", json={"records": rows}, headers=api.headers("operator")
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def personal(rows: list[dict[str, Any]]) -> set[str]:
    return {str(r[f]) for r in rows for f in PERSONAL_FIELDS if r.get(f)}


def test_first_submission_was_anchored(api: Api) -> None:
    report = api.submitted
    assert report["accepted"] == ROWS and report["rejected"] == 0
    assert sum(b["tree_size"] for b in report["batches"]) == ROWS
    assert all(not b["resumed"] for b in report["batches"])


def test_bad_rows_are_rejected_by_row_and_field_without_values(api: Api) -> None:
    rows = raw_rows(3, seed=43)
    rows[1]["subject_id_number"] = "11010519491231002Y"  # wrong check digit
    rows[2] = {"report_id": "RPT-X"}
    report = submit(api, rows)
    assert report["accepted"] == 1 and report["rejected"] == 2
    rejected = {(r["row"], r["field"]) for r in report["rejections"]}
    assert (2, "subject_id_number") in rejected
    assert {r["row"] for r in report["rejections"]} == {2, 3}
    text = str(report)
    for value in personal(rows) | {"11010519491231002Y"}:
        assert value not in text
    assert not (api.settings.data_dir / SPOOL_DIR).exists()  # nothing was spooled


def test_same_rows_again_resume_the_same_submission(api: Api) -> None:
    rows = raw_rows(2, seed=44)
    first = submit(api, rows)
    again = submit(api, rows)
    assert again["submission_id"] == first["submission_id"]
    assert again["already_complete"] is True
    assert again["accepted"] == first["accepted"] == 2
    assert again["batches"] == []


def test_duplicate_record_ids_are_refused(api: Api) -> None:
    rows = raw_rows(ROWS, seed=41)[:1] + raw_rows(1, seed=45)  # the first was submitted
    report = submit(api, rows)
    assert report["accepted"] == 1
    (rejection,) = report["rejections"]
    assert rejection["row"] == 1 and rejection["reason"].startswith("duplicate record id")


def test_raw_rows_left_by_a_killed_server_are_removed_at_start_up(tmp_path: Path) -> None:
    """Earlier versions spooled a request's raw rows to ``api-submissions/``; a server
    killed mid-request left them there. The next start-up removes them."""
    data_dir = tmp_path / "data"
    (data_dir / SPOOL_DIR).mkdir(mode=0o700, parents=True)
    rows = raw_rows(3, seed=46)
    leftover = data_dir / SPOOL_DIR / f"{'ab' * 32}-0123abcd.jsonl"
    write_jsonl(rows, leftover)
    settings = Settings(data_dir=data_dir, rpc_url=None, db_url=None)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert not (data_dir / SPOOL_DIR).exists()
    text = b"".join(p.read_bytes() for p in files_under(data_dir))
    assert not [value for value in personal(rows) if value.encode() in text]
