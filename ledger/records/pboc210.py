"""``pboc-210``: records named as the credit reference system's personal loan account record.

Record 210 (个人借贷账户信息记录) of the PBOC second-generation interface spec
(see :mod:`ledger.records.codes`) names its data items in segments: the base
segment (基础段), the basic-information segment (基本信息段), the related
repayment party segment (相关还款责任人段), the monthly performance segment
(月度表现信息段) and the special-transaction segment (特殊交易说明段).
:data:`TABLE` maps each item this schema carries to its ``credit-account-report``
v2 field; the values are the same codes (v2 uses the spec's code lists), so the
mapping renames and never recodes. It is the only copy of the mapping: both
directions read it.

A pboc-210 row is flat (the segments' items side by side, as a CSV header or
one JSON object); a JSON object may also group them by segment. The two
repeated groups are lists of objects (in CSV, a cell of JSON text):
``RltRepymtInf`` (``ArlpType``, ``InfoIDType``, ``ArlpAmt``) and ``CagOfTrdInf``
(``ChanTranType``, ``TranDate``, ``TranAmt``, ``DueTranMon``), with their counts
``RltRepymtNm`` and ``CagOfTrdNm``. A related party's name, ID and contract
number are not accepted: a third person's identity is not needed to prove the
record, and is refused rather than carried. Fields record 210 has no item for
(the platform's ``report_id``, ``days_past_due``, ``subject_mobile``,
``funders``, ``consent_ids``) go under their own names.

:func:`from_pboc` gives a raw v2 row for the usual validation (a wrong code is
refused there, and :func:`pboc_name` names the item); :func:`to_pboc` turns a
validated record of either version into a pboc-210 row. Every value is text,
as in the spec's files: counts and whole amounts without decimals ("61000").
The monthly segment has the current month's repayment status only, so
:func:`to_pboc` writes the latest code of ``repayment_status``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple, TextIO

from ledger import jsontext
from ledger.errors import InputError
from ledger.records.readers import RecordBytes, csv_cell, csv_value
from ledger.records.schema import DECIMAL_FIELDS, VERSION_FIELD
from ledger.records.upgrade import upgrade

FORMAT: Final = "pboc-210"
RECORD_TYPE_ITEM: Final = "InfRecType"
RECORD_TYPE: Final = "210"


class Item(NamedTuple):
    """One data item of record 210 and the field it is."""

    pboc: str
    field: str
    segment: str


TABLE: Final[tuple[Item, ...]] = (
    Item("AcctType", "account_type", "AcctBsSgmt"),
    Item("AcctCode", "account_id", "AcctBsSgmt"),
    Item("RptDate", "report_date", "AcctBsSgmt"),
    Item("RptDateCode", "report_reason", "AcctBsSgmt"),
    Item("Name", "subject_name", "AcctBsSgmt"),
    Item("IDType", "subject_id_type", "AcctBsSgmt"),
    Item("IDNum", "subject_id_number", "AcctBsSgmt"),
    # The spec's reporting-institution code; this schema identifies the reporter by USCC.
    Item("MngmtOrgCode", "reporter_org_code", "AcctBsSgmt"),
    Item("BusiDtlLines", "business_type", "AcctBsInfSgmt"),
    Item("OpenDate", "open_date", "AcctBsInfSgmt"),
    Item("Cy", "currency", "AcctBsInfSgmt"),
    Item("AcctCredLine", "credit_limit", "AcctBsInfSgmt"),
    Item("LoanAmt", "principal", "AcctBsInfSgmt"),
    Item("DueDate", "due_date", "AcctBsInfSgmt"),
    Item("RepayFreqcy", "repayment_frequency", "AcctBsInfSgmt"),
    Item("RepayPrd", "instalments_total", "AcctBsInfSgmt"),
    Item("GuarMode", "guarantee_type", "AcctBsInfSgmt"),
    Item("RltRepymtInf", "related_parties", "RltRepymtInfSgmt"),
    Item("Month", "period", "AcctMthlyBlgInfSgmt"),
    Item("AcctStatus", "account_status", "AcctMthlyBlgInfSgmt"),
    Item("AcctBal", "balance", "AcctMthlyBlgInfSgmt"),
    Item("RemRepPrd", "instalments_remaining", "AcctMthlyBlgInfSgmt"),
    Item("FiveCate", "five_class", "AcctMthlyBlgInfSgmt"),
    Item("RpyStatus", "repayment_status", "AcctMthlyBlgInfSgmt"),
    Item("OverdPrd", "overdue_instalments", "AcctMthlyBlgInfSgmt"),
    Item("TotOverd", "overdue_amount", "AcctMthlyBlgInfSgmt"),
    Item("Oved31_60Princ", "overdue_principal_31_60", "AcctMthlyBlgInfSgmt"),
    Item("Oved61_90Princ", "overdue_principal_61_90", "AcctMthlyBlgInfSgmt"),
    Item("Oved91_180Princ", "overdue_principal_91_180", "AcctMthlyBlgInfSgmt"),
    Item("OvedPrinc180", "overdue_principal_180_plus", "AcctMthlyBlgInfSgmt"),
    Item("CurRpyAmt", "amount_due", "AcctMthlyBlgInfSgmt"),
    Item("ActRpyAmt", "amount_paid", "AcctMthlyBlgInfSgmt"),
    Item("LatRpyDate", "last_payment_date", "AcctMthlyBlgInfSgmt"),
    Item("CagOfTrdInf", "special_transactions", "AcctSpecTrstDspnSgmt"),
)
#: The keys of each repeated group's entries: spec item -> v2 entry key.
ENTRY_KEYS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "related_parties": {"ArlpType": "role", "InfoIDType": "kind", "ArlpAmt": "amount"},
        "special_transactions": {
            "ChanTranType": "type",
            "TranDate": "date",
            "TranAmt": "amount",
            "DueTranMon": "months",
        },
    }
)
#: A repeated group's count item -> the group.
COUNTS: Final = MappingProxyType({"RltRepymtNm": "RltRepymtInf", "CagOfTrdNm": "CagOfTrdInf"})
#: Fields record 210 has no item for: a pboc-210 row carries them under these names.
OWN_NAMES: Final = ("report_id", "days_past_due", "subject_mobile", "funders", "consent_ids")
SEGMENTS: Final = frozenset(item.segment for item in TABLE)
#: A related party's identity items: refused (see the module docstring).
PARTY_IDENTITY: Final = frozenset({"ArlpName", "ArlpCertType", "ArlpCertNum", "MaxGuarMcc"})

#: Every item name a pboc-210 row may hold, in the order rows are written.
ITEM_ORDER: Final = (
    RECORD_TYPE_ITEM,
    *(
        name
        for item in TABLE
        for name in (*(c for c, group in COUNTS.items() if group == item.pboc), item.pboc)
    ),
    *OWN_NAMES,
)
BY_PBOC: Final = MappingProxyType({item.pboc: item.field for item in TABLE})
BY_FIELD: Final = MappingProxyType({item.field: item.pboc for item in TABLE})
_SHOWN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}").fullmatch
_WHOLE = ".00"


class PbocItemError(InputError):
    """A pboc-210 row names an item this mapping does not carry, or shapes one wrongly."""

    code = "pboc-210-item"

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


def pboc_name(field: str) -> str:
    """The record-210 item a v2 field is (its own name when 210 has none)."""
    return BY_FIELD.get(field, field)


def _shown(name: object, position: int) -> str:
    """A key as it may appear in an error: only names that look like item names."""
    return name if isinstance(name, str) and _SHOWN_NAME(name) else f"<item #{position}>"


def _flat(row: Mapping[str, object]) -> dict[str, object]:
    """A row with its segment objects (if any) opened up into their items."""
    flat: dict[str, object] = {}
    for name, value in row.items():
        if name in SEGMENTS and isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[name] = value
    return flat


def _group(item: str, value: object, keys: Mapping[str, str]) -> object:
    """A repeated group's entries with v2 keys (JSON text in a CSV cell is read first)."""
    if isinstance(value, str):
        try:
            value = jsontext.loads(value)
        except ValueError:  # not JSON, or nested too deeply
            raise PbocItemError(item, "must be a JSON list of objects") from None
    if not isinstance(value, list):
        raise PbocItemError(item, "must be a list of objects")
    entries = []
    for position, entry in enumerate(value, 1):
        if not isinstance(entry, Mapping):
            raise PbocItemError(item, f"entry {position} must be an object")
        renamed: dict[str, object] = {}
        for key, inner in entry.items():
            if key in PARTY_IDENTITY:
                raise PbocItemError(f"{item}.{key}", "a related party's identity is not accepted")
            if key not in keys:
                raise PbocItemError(f"{item}.{_shown(key, position)}", "not an item of this group")
            renamed[keys[key]] = inner
        entries.append(renamed)
    return entries


def from_pboc(row: Mapping[str, object]) -> dict[str, object]:
    """A raw ``credit-account-report`` v2 row from a pboc-210 row (values as given).

    Raises :class:`PbocItemError` for an item the mapping does not carry or a
    malformed group; codes and values are checked by the v2 schema afterwards.
    """
    flat = _flat(row)
    out: dict[str, object] = {VERSION_FIELD: 2}
    for position, (name, value) in enumerate(flat.items(), 1):
        if name == RECORD_TYPE_ITEM:
            if value != RECORD_TYPE:
                raise PbocItemError(name, "must be 210 (the personal loan account record)")
        elif name in COUNTS:
            continue  # checked against its group below
        elif name in BY_PBOC:
            field = BY_PBOC[name]
            keys = ENTRY_KEYS.get(field)
            out[field] = value if keys is None or value in (None, "") else _group(name, value, keys)
        elif name in OWN_NAMES:
            out[name] = value
        elif name in PARTY_IDENTITY:
            raise PbocItemError(name, "a related party's identity is not accepted")
        else:
            raise PbocItemError(_shown(name, position), "not a pboc-210 item this schema carries")
    _check_counts(flat, out)
    return out


def _check_counts(flat: Mapping[str, object], out: Mapping[str, object]) -> None:
    for count, group in COUNTS.items():
        if count not in flat or flat[count] in (None, ""):
            continue
        entries = out.get(BY_PBOC[group])
        size = len(entries) if isinstance(entries, list) else 0
        if str(flat[count]).strip() != str(size):
            raise PbocItemError(count, f"must be the number of {group} entries")


def to_pboc(record: Mapping[str, object]) -> dict[str, object]:
    """A pboc-210 row from a *validated* record (v1 records are upgraded to v2 first,
    :func:`~ledger.records.upgrade.upgrade`)."""
    v2 = upgrade(record)
    out: dict[str, object] = {RECORD_TYPE_ITEM: RECORD_TYPE}
    for item in TABLE:
        value = v2.get(item.field)
        if value is None:
            continue
        if item.field in ENTRY_KEYS:
            count = next(name for name, group in COUNTS.items() if group == item.pboc)
            out[count] = str(len(value)) if isinstance(value, list) else "0"
            out[item.pboc] = _groups_out(item.field, value)
        else:
            out[item.pboc] = _text(item.field, value)
    for name in OWN_NAMES:
        if (value := v2.get(name)) is not None:
            out[name] = value if isinstance(value, list) else _text(name, value)
    return out


def _groups_out(field: str, value: object) -> list[dict[str, str]]:
    keys = {ours: theirs for theirs, ours in ENTRY_KEYS[field].items()}
    entries = value if isinstance(value, list) else []
    return [{keys[key]: _text(key, inner) for key, inner in entry.items()} for entry in entries]


def _text(field: str, value: object) -> str:
    """A value as the spec's text: amounts in whole yuan lose their ``.00``."""
    text = str(value)
    if (field in DECIMAL_FIELDS or field == "amount") and text.endswith(_WHOLE):
        return text[: -len(_WHOLE)]
    if field == "repayment_status":
        return text[-1:]  # the current month's code
    return text


def read_pboc(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """The rows of a pboc-210 file, numbered from 1: JSON (one object or a list of them),
    JSON Lines (``.jsonl``, ``.ndjson``) or CSV (a header of item names)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc.__class__.__name__}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(text)
        return
    if suffix in (".jsonl", ".ndjson"):
        lines = text.splitlines()
        values = [_json(line, n) for n, line in enumerate(lines, 1) if line.strip()]
    else:
        whole = _json(text, 0)
        values = whole if isinstance(whole, list) else [whole]
    for number, value in enumerate(values, 1):
        if not isinstance(value, dict):
            raise InputError(f"row {number}: a pboc-210 row must be a JSON object")
        yield number, value


def _json(text: str, line: int) -> object:
    """JSON text of the file (``line``: its line, 0 for the whole file), its nesting bounded."""
    where = f"line {line}" if line else "the file"
    try:
        return jsontext.loads(text)
    except jsontext.JsonTooDeepError as exc:
        raise InputError(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line else f"line {exc.lineno}"
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    except ValueError:  # e.g. an integer beyond Python's digit limit
        raise InputError(f"{where}: a JSON number is too large") from None


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, object]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        return
    for number, cells in enumerate(reader, 1):
        if len(cells) != len(header):
            raise InputError(f"row {number}: expected {len(header)} columns, found {len(cells)}")
        row: dict[str, object] = {}
        for name, cell in zip(header, cells, strict=True):
            if cell.strip():
                row[name] = csv_value(name, cell)
        yield number, row


def v2_rows(path: Path) -> Iterator[dict[str, object]]:
    """The raw v2 rows of a pboc-210 file; an item error names its row."""
    for number, row in read_pboc(path):
        try:
            yield from_pboc(row)
        except PbocItemError as exc:
            raise PbocItemError(f"row {number}: {exc.item}", exc.reason) from None


def as_jsonl(path: Path) -> RecordBytes:
    """A pboc-210 file as ``credit-account-report`` JSON Lines in memory (one line per row,
    so row numbers stay), named after the file: what ``ledger submit --from pboc-210`` reads."""
    lines = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in v2_rows(path))
    data = "".join(line + "\n" for line in lines).encode()
    return RecordBytes(f"{path.name}.{FORMAT}.jsonl", data)


def write_pboc(rows: Iterable[Mapping[str, object]], out: TextIO, *, as_csv: bool) -> int:
    """Write pboc-210 rows as a JSON list (one object per line) or as CSV; returns the count."""
    rows = list(rows)
    if as_csv:
        used = [name for name in ITEM_ORDER if any(name in row for row in rows)]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(used)
        for row in rows:
            writer.writerow([_cell(name, row.get(name)) for name in used])
        return len(rows)
    out.write("[\n")
    for position, row in enumerate(rows):
        text = json.dumps(row, ensure_ascii=False, separators=(", ", ": "))
        out.write(text + (",\n" if position < len(rows) - 1 else "\n"))
    out.write("]\n")
    return len(rows)


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in BY_PBOC and BY_PBOC[name] in ENTRY_KEYS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(csv_cell(name, value))


__all__ = [
    "BY_FIELD",
    "BY_PBOC",
    "FORMAT",
    "OWN_NAMES",
    "TABLE",
    "Item",
    "PbocItemError",
    "as_jsonl",
    "from_pboc",
    "pboc_name",
    "read_pboc",
    "to_pboc",
    "v2_rows",
    "write_pboc",
]
