"""``ledger submit``: validate, desensitise, anchor a file of credit records."""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    RpcOpt,
    command,
    console,
    print_json,
    settings_for,
)
from ledger.errors import InputError
from ledger.ingest.session import Submitting
from ledger.ingest.submission import SubmitReport
from ledger.records import pboc210
from ledger.records.readers import RecordSource

#: Rejections shown on the terminal; the rest go to --rejections FILE or --json.
SHOWN_REJECTIONS = 20
#: Redrawing the bar costs microseconds; a record costs about as much.
PROGRESS_EVERY = 500
#: Below this many lines, starting worker processes costs more than it saves.
PARALLEL_FROM_LINES = 20_000


def default_workers(lines: int) -> int:
    return min(os.cpu_count() or 1, 4) if lines >= PARALLEL_FROM_LINES else 1


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


@command
def submit(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL file of credit-account-report rows.")],
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Records per batch [10000].")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Desensitisation policy (TOML).")
    ] = None,
    rejections: Annotated[
        Path | None, typer.Option("--rejections", help="Write every rejection to this CSV.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes for records [cores, for large files]."),
    ] = None,
    from_format: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Read FILE as pboc-210: the credit reference system's personal loan account "
            "record item names (JSON, JSON Lines or CSV); rows become schema v2 records.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate, desensitise, salt and anchor FILE; re-run the same file to resume it.

    Rows name their schema version in schema_version (none: v1); v1 and v2 rows may mix.

    Example: ledger submit portfolio.csv --data-dir ./.ledger
    Example: ledger submit loans-210.json --from pboc-210
    """
    settings = settings_for(data_dir, rpc)
    if batch_size is not None:
        settings.batch_size = batch_size
    source: RecordSource = file
    if from_format is not None:
        if from_format != pboc210.FORMAT:
            raise InputError(f"--from takes {pboc210.FORMAT} (got another format name)")
        source = pboc210.as_jsonl(file)
    total = _count_lines(file) if file.is_file() else None
    with Submitting.open(settings, holder="ledger submit") as ledger:
        show_bar = not as_json and sys.stderr.isatty()
        with _progress(show_bar) as bar:
            task = bar.add_task("submitting", total=total)
            submitter = ledger.submitter(
                policy_file=policy,
                progress=_ticker(bar, task),
                workers=workers or default_workers(total or 0),
            )
            report = submitter.submit(source)
    if from_format is not None:  # name the items as the file does
        report.rejections = [
            dataclasses.replace(r, field=pboc210.pboc_name(r.field)) for r in report.rejections
        ]
    if rejections is not None:
        _write_rejections(report, rejections)
    if as_json:
        print_json(_report_json(report))
    else:
        _show(report)


def _ticker(bar: Progress, task: TaskID) -> Callable[[int], None]:
    """A progress callback for the last row done (per row, or per chunk of rows)."""
    shown = 0

    def tick(row: int) -> None:
        nonlocal shown
        if row - shown >= PROGRESS_EVERY:
            bar.update(task, completed=row)
            shown = row

    return tick


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        console=console.__class__(stderr=True),
    )


def _report_json(report: SubmitReport) -> dict[str, object]:
    return {
        "submission_id": report.submission_id,
        "already_complete": report.already_complete,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "batches": [
            {
                "batch_id": b.batch_id,
                "root": b.root,
                "tree_size": b.tree_size,
                "tx_hash": b.tx_hash,
                "block_number": b.block_number,
                "resumed": b.resumed,
                "status": b.status,
            }
            for b in report.batches
        ],
        "rejections": [
            {"row": r.row_number, "field": r.field, "reason": r.reason} for r in report.rejections
        ],
    }


def _write_rejections(report: SubmitReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "field", "reason"])
        for r in report.rejections:
            writer.writerow([r.row_number, r.field, r.reason])


def _show(report: SubmitReport) -> None:
    if report.already_complete:
        console.print(f"submission {report.submission_id} was already complete")
    summary = Table(title="Submission", show_header=False, title_justify="left")
    summary.add_row("submission", report.submission_id)
    summary.add_row("accepted", str(report.accepted))
    summary.add_row("rejected", str(report.rejected))
    summary.add_row("batches", str(len(report.batches)))
    console.print(summary)
    if report.batches:
        batches = Table("batch", "records", "root", "tx", "block", title_justify="left")
        for b in report.batches:
            batches.add_row(
                b.batch_id[:18] + "…", str(b.tree_size), b.root, b.tx_hash, str(b.block_number)
            )
        console.print(batches)
    if waiting := sum(b.status == "confirming" for b in report.batches):
        console.print(
            f"{waiting} batch(es) mined, awaiting the chain's confirmations: they count as "
            "anchored once confirmed (the next run or `ledger serve` finishes them)"
        )
    if report.rejections:
        shown = report.rejections[:SHOWN_REJECTIONS]
        table = Table("row", "field", "reason", title="Rejections", title_justify="left")
        for r in shown:
            table.add_row(str(r.row_number), r.field, r.reason)
        console.print(table)
        if len(report.rejections) > len(shown):
            console.print(
                f"… and {len(report.rejections) - len(shown)} more (use --rejections FILE)"
            )
