"""pboc-210 <-> credit-account-report v2: the golden files map both ways exactly, and an item
or code the mapping does not know is refused with its name."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ledger.errors import InputError
from ledger.records import RecordRejected, codes, pboc210, read_rows, validate_record
from ledger.records.pboc210 import PbocItemError, from_pboc, to_pboc
from ledger.records.schema import FIELDS_V2, VERSION_FIELD
from ledger.records.upgrade import NO_V2_CODE, upgrade
from tests.records.sample import valid_row

GOLDEN = Path(__file__).parent / "golden_pboc210"
#: JSON text nested far deeper than any C stack allows a recursive parser.
DEEP = "[" * 300_000 + "]" * 300_000
V2 = GOLDEN / "loans.v2.jsonl"
PBOC_JSON = GOLDEN / "loans.pboc210.json"
PBOC_CSV = GOLDEN / "loans.pboc210.csv"


def golden_v2() -> list[dict[str, object]]:
    return [json.loads(line) for line in V2.read_text(encoding="utf-8").splitlines()]


def exported(as_csv: bool) -> str:
    out = io.StringIO()
    records = [validate_record(row) for row in golden_v2()]
    pboc210.write_pboc([to_pboc(r) for r in records], out, as_csv=as_csv)
    return out.getvalue()


def test_the_table_names_each_item_once_and_only_v2_fields() -> None:
    assert len({i.pboc for i in pboc210.TABLE}) == len(pboc210.TABLE)
    assert len({i.field for i in pboc210.TABLE}) == len(pboc210.TABLE)
    v2 = {spec.name for spec in FIELDS_V2}
    assert {i.field for i in pboc210.TABLE} | set(pboc210.OWN_NAMES) | {VERSION_FIELD} == v2


def test_golden_json_imports_to_the_golden_v2_rows() -> None:
    assert list(pboc210.v2_rows(PBOC_JSON)) == golden_v2()


def test_golden_v2_rows_export_to_the_golden_json_byte_for_byte() -> None:
    assert exported(as_csv=False) == PBOC_JSON.read_text(encoding="utf-8")


def test_golden_v2_rows_export_to_the_golden_csv_byte_for_byte() -> None:
    assert exported(as_csv=True) == PBOC_CSV.read_text(encoding="utf-8")


def test_golden_csv_imports_to_the_same_records() -> None:
    # CSV cells are text (a funder's share too): the same records once validated.
    from_csv = [validate_record(row) for row in pboc210.v2_rows(PBOC_CSV)]
    assert from_csv == [validate_record(row) for row in golden_v2()]


def test_round_trip_pboc_to_v2_to_pboc_is_exact() -> None:
    records = [validate_record(row) for row in pboc210.v2_rows(PBOC_JSON)]
    out = io.StringIO()
    pboc210.write_pboc([to_pboc(r) for r in records], out, as_csv=False)
    assert out.getvalue() == PBOC_JSON.read_text(encoding="utf-8")


def test_the_golden_rows_cover_statuses_7_and_8_and_both_groups() -> None:
    rows = golden_v2()
    assert {"7", "8"} <= {r["account_status"] for r in rows}
    assert any("special_transactions" in r for r in rows)
    assert any("related_parties" in r for r in rows)
    assert any(r["account_type"] == "R2" for r in rows)


def test_segments_may_group_the_items() -> None:
    flat = json.loads(PBOC_JSON.read_text(encoding="utf-8"))[0]
    segmented: dict[str, object] = {"InfRecType": flat.pop("InfRecType")}
    for item in pboc210.TABLE:
        if item.pboc in flat:
            segment = segmented.setdefault(item.segment, {})
            assert isinstance(segment, dict)
            segment[item.pboc] = flat.pop(item.pboc)
    segmented.update(flat)  # counts and own names stay flat
    assert from_pboc(segmented) == golden_v2()[0]


@pytest.mark.parametrize(
    ("change", "item", "reason"),
    [
        ({"BusiLines": "1"}, "BusiLines", "not a pboc-210 item this schema carries"),
        ({"InfRecType": "230"}, "InfRecType", "must be 210 (the personal loan account record)"),
        ({"ArlpCertNum": "x"}, "ArlpCertNum", "a related party's identity is not accepted"),
        (
            {"RltRepymtInf": [{"ArlpType": "2", "ArlpName": "x"}]},
            "RltRepymtInf.ArlpName",
            "a related party's identity is not accepted",
        ),
        (
            {"CagOfTrdInf": [{"ChanTranType": "1", "DetInfo": "x"}]},
            "CagOfTrdInf.DetInfo",
            "not an item of this group",
        ),
        ({"CagOfTrdInf": "[oops"}, "CagOfTrdInf", "must be a JSON list of objects"),
        # nested past any stack (web3 raises the recursion limit): refused, not a crash
        ({"CagOfTrdInf": DEEP}, "CagOfTrdInf", "must be a JSON list of objects"),
        ({"RltRepymtNm": "3"}, "RltRepymtNm", "must be the number of RltRepymtInf entries"),
        ({"1100000000000000": "x"}, "<item #", "not a pboc-210 item this schema carries"),
    ],
)
def test_an_unknown_item_is_refused_with_its_name(
    change: dict[str, object], item: str, reason: str
) -> None:
    row = json.loads(PBOC_JSON.read_text(encoding="utf-8"))[0] | change
    with pytest.raises(PbocItemError) as caught:
        from_pboc(row)
    assert caught.value.item.startswith(item)
    assert caught.value.reason == reason
    assert "1100000000000000" not in str(caught.value)  # a value is never echoed


@pytest.mark.parametrize(
    ("item", "value"),
    [("AcctStatus", "9"), ("RptDateCode", "50"), ("RepayFreqcy", "M"), ("FiveCate", "6")],
)
def test_an_unknown_code_is_refused_naming_its_item(item: str, value: str) -> None:
    row = json.loads(PBOC_JSON.read_text(encoding="utf-8"))[0] | {item: value}
    with pytest.raises(RecordRejected) as caught:
        validate_record(from_pboc(row))
    assert [pboc210.pboc_name(p.field) for p in caught.value.problems] == [item]


def test_a_v1_record_exports_through_the_v1_to_v2_table() -> None:
    record = validate_record(valid_row())
    out = to_pboc(record)
    assert out["RepayFreqcy"] == "03" and out["RptDateCode"] == codes.V1_REPORT_REASON
    assert out["RpyStatus"] == "N"  # the current month of the history
    assert validate_record(from_pboc(out))["repayment_frequency"] == "03"


def test_a_v1_card_status_maps_to_the_card_list() -> None:
    row = valid_row() | {"account_type": "R2", "credit_limit": "1.00", "account_status": "4"}
    assert upgrade(validate_record(row))["account_status"] == "5"  # bad debt: 5 on a card
    with pytest.raises(RecordRejected) as caught:
        upgrade(validate_record(row | {"account_status": "5"}))
    assert [(p.field, p.reason) for p in caught.value.problems] == [("account_status", NO_V2_CODE)]


def test_every_golden_file_row_reads_back(tmp_path: Path) -> None:
    lines = tmp_path / "loans.jsonl"
    lines.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in json.loads(PBOC_JSON.read_text()))
        + "\n",
        encoding="utf-8",
    )
    assert list(pboc210.v2_rows(lines)) == golden_v2()
    converted = pboc210.as_jsonl(PBOC_JSON)
    assert [row.fields for row in read_rows(converted)] == golden_v2()


def test_a_row_error_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    rows = json.loads(PBOC_JSON.read_text(encoding="utf-8"))
    rows[3]["Foo"] = "1"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(PbocItemError, match="row 4: Foo: not a pboc-210 item"):
        list(pboc210.v2_rows(path))


@pytest.mark.parametrize("name", ["loans.json", "loans.jsonl"])
def test_a_file_nested_too_deeply_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(DEEP + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nests deeper than"):
        list(pboc210.read_pboc(path))
