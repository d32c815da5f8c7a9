"""``ledger convert``: records to and from ``pboc-210`` (the credit reference item names)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli._common import command, console
from ledger.errors import InputError
from ledger.records import RecordRejected, pboc210, read_rows, validate_record
from ledger.records.pboc210 import v2_rows


@command
def convert(
    file: Annotated[Path, typer.Argument(help="The records to convert (CSV, JSON or JSONL).")],
    to_format: Annotated[
        str | None, typer.Option("--to", help="pboc-210: from this schema's field names.")
    ] = None,
    from_format: Annotated[
        str | None,
        typer.Option("--from", help="pboc-210: to schema v2 field names (JSON Lines)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default stdout).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="With --to: write CSV, not JSON.")] = False,
) -> None:
    """Convert records between this schema and pboc-210 (record 210 item names).

    --to pboc-210 validates each record (v1 records are upgraded to v2 first) and
    writes the items; --from pboc-210 writes the v2 rows `ledger submit` reads.

    Example: ledger convert portfolio.jsonl --to pboc-210 -o loans-210.json
    """
    if (to_format is None) == (from_format is None) or pboc210.FORMAT not in (
        to_format,
        from_format,
    ):
        raise InputError(f"give one of --to {pboc210.FORMAT} or --from {pboc210.FORMAT}")
    # Every row is converted before anything is written: a refused row leaves no half file.
    if to_format is not None:
        buffer = io.StringIO()
        count = pboc210.write_pboc(_to_pboc(file), buffer, as_csv=as_csv)
        text = buffer.getvalue()
    else:
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in v2_rows(file)]
        text, count = "".join(line + "\n" for line in lines), len(lines)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {count} row(s) to {output}", markup=False)


def _to_pboc(file: Path) -> list[dict[str, object]]:
    rows = []
    for raw in read_rows(file):
        if raw.fields is None:
            raise InputError(f"row {raw.row_number}: {raw.error}")
        try:
            record = validate_record(raw.fields)
        except RecordRejected as exc:
            first = exc.problems[0]
            raise InputError(
                f"row {raw.row_number}: {first.field}: {first.reason}"
                + (f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else "")
            ) from None
        rows.append(pboc210.to_pboc(record))
    return rows
