"""``ledger audit`` (auditor) and ``ledger export`` (operator)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from ledger.audit.defaults import DEFAULT_RANGE, LATEST_REPORT
from ledger.audit.findings import WHERE
from ledger.chain.deploy import Deployment
from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    RpcOpt,
    command,
    console,
    err_console,
    print_json,
    settings_for,
)
from ledger.config import Settings
from ledger.errors import InputError, LedgerError
from ledger.store import Store
from ledger.store.db import STORE_FILE

#: Exit codes of ``ledger audit``: clean, findings, could not audit.
EXIT_CLEAN: Final = 0
EXIT_FINDINGS: Final = 1
EXIT_UNAUDITABLE: Final = 2
if TYPE_CHECKING:  # the audit modules load the chain stack: imported where they run
    from ledger.audit import AuditReport, AuditTarget
    from ledger.audit.replay import Progress as ProgressFn

#: Findings listed in the table; the rest are in --json / --report / --html.
SHOWN: Final = 30


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressFn | None]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:>14}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield update


def _target(
    settings: Settings,
    deployment: Path | None,
    registry: str | None,
    consent_registry: str | None,
    from_block: int | None,
    alert_log_registry: str | None = None,
) -> AuditTarget:
    from dataclasses import replace

    from ledger.audit import AuditTarget

    if registry or consent_registry:
        if not (registry and consent_registry):
            raise InputError("give both --registry and --consent-registry (or --deployment)")
        return AuditTarget(
            anchor_registry=registry,
            consent_registry=consent_registry,
            from_block=from_block or 0,
            alert_log_registry=alert_log_registry,
        )
    if alert_log_registry is not None:
        raise InputError("--alert-log-registry goes with --registry and --consent-registry")
    target = AuditTarget.of(Deployment.load(deployment or settings.deployment_file))
    return target if from_block is None else replace(target, from_block=from_block)


def _store(settings: Settings, db: str | None) -> Store | None:
    """The store to cross-check: ``--db``, else the one ``LEDGER_DB_URL`` names (as every
    other command opens), else the data dir's SQLite file if it has one (an auditor's
    data dir may have none: then the chain and records are audited without a store)."""
    if db is not None:
        return Store.for_settings(settings, db)
    if settings.db_url is not None or (settings.data_dir / STORE_FILE).exists():
        return Store.for_settings(settings)
    return None


def _show(report: AuditReport) -> None:
    checked = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(report.checked.items()))
    console.print(f"checked: {checked}")
    rebuilt = report.chain.get("rebuilt")
    if rebuilt is not None:
        console.print(
            f"this store is an audit's rebuild (to block {rebuilt['to_block']}, "
            f"{rebuilt['rebuilt_at']}): it holds only what the chain and the verified export "
            "prove, so alerts it lacks are ALERT_NOT_REBUILT (info); judge the platform's "
            "store for missing alerts",
            markup=False,
        )
    if report.findings:
        table = Table("severity", "code", "where", "expected", "found")
        for f in report.findings[:SHOWN]:
            where = " ".join(
                f"{name}={getattr(f, name)}" for name in WHERE if getattr(f, name) is not None
            )
            table.add_row(f.severity.label, f.code, where, str(f.expected), str(f.found))
        console.print(table)
        if len(report.findings) > SHOWN:
            console.print(f"... and {len(report.findings) - SHOWN} more (see --report / --json)")
    verdict = "CLEAN" if report.clean else f"FINDINGS: {len(report.failing)}"
    console.print(f"{verdict} (log head {report.chain.get('log_head')})")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)


def audit_cmd(
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    deployment: Annotated[
        Path | None, typer.Option("--deployment", help="deployment.json to audit.")
    ] = None,
    registry: Annotated[
        str | None, typer.Option("--registry", help="AnchorRegistry address.")
    ] = None,
    consent_registry: Annotated[
        str | None, typer.Option("--consent-registry", help="ConsentRegistry address.")
    ] = None,
    alert_log_registry: Annotated[
        str | None,
        typer.Option(
            "--alert-log-registry",
            help="With --registry: the registry of kind 4, if the deployment predates it.",
        ),
    ] = None,
    from_block: Annotated[
        int | None, typer.Option("--from-block", min=0, help="First block to replay.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Store to cross-check (SQLAlchemy URL).")
    ] = None,
    records: Annotated[
        Path | None, typer.Option("--records", help="Exported records (ledger export).")
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON.")
    ] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write an HTML report.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Save the replay here; resume from it.")
    ] = None,
    rebuild: Annotated[
        str | None,
        typer.Option("--rebuild", help="Write the verified state into this empty store (URL)."),
    ] = None,
    block_range: Annotated[
        int, typer.Option("--range", min=1, help="Blocks per eth_getLogs request.")
    ] = DEFAULT_RANGE,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Risk plan whose alert delivery window applies (default: LEDGER_ALERTS_PLAN).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay the registries from the chain, cross-check the store and records, report.

    With a store, the risk-alert log is held to its kind-4 anchors, every per-loan alert to
    the transitions recomputed from the anchored records, and every alert to the risk
    plan's delivery window. Exit 0 clean, 1 findings, 2 could not audit.

    Example: ledger audit --rpc http://127.0.0.1:8545 --records export.jsonl --report audit.json
    """
    from ledger.alerts.plan import Plan
    from ledger.audit import audit, render_html
    from ledger.audit.alert_checks import AlertChecks
    from ledger.chain import open_chain

    try:
        settings = settings_for(data_dir, rpc)
        target = _target(
            settings, deployment, registry, consent_registry, from_block, alert_log_registry
        )
        alerts = AlertChecks.of(Plan.load(plan or settings.alerts_plan), recompute=settings.alerts)
        if records is not None and not records.is_file():
            raise InputError(f"no records file at {records}")
        store = _store(settings, db)
        fresh = None if rebuild is None else Store.for_settings(settings, rebuild)
        try:
            with (
                open_chain(settings, holder="ledger audit", read_only=True) as chain,
                _progress(sys.stderr.isatty() and not as_json) as progress,
            ):
                report, _ = audit(
                    chain,
                    target,
                    store=store,
                    records=records,
                    checkpoint=checkpoint,
                    step=block_range,
                    progress=progress,
                    rebuild=fresh,
                    alerts=alerts,
                )
        finally:
            for opened in (store, fresh):
                if opened is not None:
                    opened.close()
    except LedgerError as exc:
        err_console.print(f"error: could not audit: {exc.message}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_UNAUDITABLE) from None
    data = report.to_json()
    # The latest report stays in the data dir for the console's auditor page.
    if settings.data_dir.is_dir():
        _write(settings.data_dir / LATEST_REPORT, json.dumps(data, indent=2, sort_keys=True) + "\n")
    if report_file is not None:
        _write(report_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
    if html_file is not None:
        _write(html_file, render_html(report))
    if as_json:
        print_json(data)
    else:
        _show(report)
    raise typer.Exit(EXIT_CLEAN if report.clean else EXIT_FINDINGS)


@command
def export_cmd(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the JSONL here (default stdout).")
    ] = None,
    kind: Annotated[
        list[int] | None, typer.Option("--kind", help="Only batches of this kind (1-4).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Export every anchored record with its proof bundle, one JSON line each, for an auditor.

    Records are desensitised and salted; erased ones go out as their hash only.

    Example: ledger export -o export.jsonl
    """
    from ledger.audit import export_records

    settings = settings_for(data_dir)
    store = Store.for_settings(settings)
    kinds = frozenset(kind) if kind else None
    try:
        if output is None:
            written = export_records(store, sys.stdout, kinds=kinds)
            return
        with output.open("w", encoding="utf-8") as out:
            os.chmod(output, 0o600)
            written = export_records(store, out, kinds=kinds)
    finally:
        store.close()
    console.print(f"wrote {written} records with their proof bundles to {output}")
