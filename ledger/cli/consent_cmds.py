"""``ledger consent grant|revoke|check|show`` and ``ledger erase``.

The borrower's ID number is read from an option or a file and used only to
compute the keyed pseudonym; it is never printed, stored or logged.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from ledger import jsontext
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
from ledger.consent.erasure import erase_subject
from ledger.consent.receipt import PURPOSES, Subject, describe, parse_grant
from ledger.errors import InputError
from ledger.store import Store

if TYPE_CHECKING:
    from ledger.consent import CheckResult
    from ledger.wiring import Ledger

consent_app = typer.Typer(
    help="Record, withdraw, check and show borrower consents.",
    no_args_is_help=True,
    add_completion=False,  # the top-level app has none either
)

IdNumberOpt = Annotated[
    str,
    typer.Option(
        "--id-number",
        envvar="LEDGER_SUBJECT_ID",
        help="The borrower's ID number (or set LEDGER_SUBJECT_ID; kept out of shell history).",
        show_default=False,
    ),
]
IdTypeOpt = Annotated[str, typer.Option("--id-type", help="ID type code (10: resident ID).")]
AtOpt = Annotated[
    datetime | None,
    typer.Option(
        "--at",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"],
        help="Instant in UTC, e.g. 2026-11-26T08:00:00Z. Default: now.",
        show_default=False,
    ),
]


def _open(data_dir: Path | None, rpc: str | None) -> Ledger:
    # Imported here: the chain stack takes seconds to load, and other commands do without it.
    from ledger.wiring import Ledger

    return Ledger.open(settings_for(data_dir, rpc), holder="ledger consent")


def _consent_json(row: Any) -> dict[str, Any]:
    from ledger.consent import consent_json

    return consent_json(row)


def _subject(id_type: str, id_number: str) -> Subject:
    try:
        return Subject(id_type=id_type, id_number=id_number)
    except ValidationError as exc:
        raise InputError(f"subject: {describe(exc)}") from None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _grants(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = jsontext.loads(text)
        items = data if isinstance(data, list) else [data]
    except jsontext.JsonTooDeepError as exc:
        raise InputError(f"{path}: {exc}") from None
    except json.JSONDecodeError:
        try:
            items = [jsontext.loads(line) for line in text.splitlines() if line.strip()]
        except jsontext.JsonTooDeepError as exc:
            raise InputError(f"{path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not JSON or JSON lines (line {exc.lineno})") from None
    grants = []
    for n, item in enumerate(items, 1):
        try:
            grants.append(parse_grant(item))
        except InputError as exc:
            raise InputError(f"{path}: consent {n}: {exc.message}") from None
    return grants


def _check_line(result: CheckResult) -> str:
    verdict = "[green]granted[/]" if result.granted else "[red]refused[/]"
    line = f"{verdict} ({result.reason}) for {result.institution}, {result.purpose}"
    if result.consent_id:
        line += f"\nconsent {result.consent_id}, valid {result.valid_from} .. "
        line += result.valid_until or "open-ended"
        if result.evidence and result.evidence.block_number:
            line += (
                f"\non chain: tx {result.evidence.tx_hash}, block {result.evidence.block_number}"
            )
    return line + f"\ninquiry {result.inquiry_id}"


@consent_app.command("grant")
@command
def grant(
    file: Annotated[
        Path,
        typer.Argument(help="A consent as JSON, a JSON list of them, or JSON lines.", exists=False),
    ],
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record consents: the receipts go to the store, their commitments on chain.

    Example: ledger consent grant consent.json
    """
    grants = _grants(file)
    with _open(data_dir, rpc) as ledger:
        rows = ledger.consents().grant(grants)
    shown = [_consent_json(r) for r in rows]
    if as_json:
        print_json(shown)
        return
    for c in shown:
        console.print(
            f"recorded consent {c['consent_id']} (block {c['on_chain']['block_number']}), "
            f"valid {c['valid_from']} .. {c['valid_until'] or 'open-ended'}"
        )


@consent_app.command("revoke")
@command
def revoke(
    consent_id: Annotated[str, typer.Argument(help="The consent id (0x + 64 hex).")],
    at: AtOpt = None,
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw a consent (PIPL Art. 15) from now, or from --at.

    Example: ledger consent revoke 0x5f...e1
    """
    with _open(data_dir, rpc) as ledger:
        row = ledger.consents().revoke(consent_id, _utc(at))
    shown = _consent_json(row)
    if as_json:
        print_json(shown)
        return
    console.print(
        f"withdrawn consent {row.consent_id} from {shown['revoked_at']} "
        f"(tx {row.revoke_tx_hash}, block {row.revoke_block_number})"
    )


@consent_app.command("check")
@command
def check(
    institution: Annotated[str, typer.Option("--institution", help="Who wants to use the data.")],
    purpose: Annotated[str, typer.Option("--purpose", help=", ".join(PURPOSES))],
    id_number: IdNumberOpt,
    id_type: IdTypeOpt = "10",
    at: AtOpt = None,
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Is the use allowed by a consent in force? The check is logged as an inquiry.

    Exit code 0 when granted, 1 when refused.

    Example: LEDGER_SUBJECT_ID=... ledger consent check --institution BANK-A --purpose LOAN_APPROVAL
    """
    subject = _subject(id_type, id_number)
    with _open(data_dir, rpc) as ledger:
        ledger.resume()  # a consent a crash left unrecorded counts once it is on chain
        result = ledger.consents().check(
            subject, institution=institution, purpose=purpose, requested_by="cli", at=_utc(at)
        )
        ledger.anchor_inquiries()
    if as_json:
        print_json(result.to_json())
    else:
        console.print(_check_line(result))
    if not result.granted:
        raise typer.Exit(1)


@consent_app.command("show")
@command
def show(
    consent_id: Annotated[str, typer.Argument(help="The consent id (0x + 64 hex).")],
    data_dir: DataDirOpt = None,
    rpc: RpcOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A consent's receipt (pseudonymous), its state and its on-chain status.

    Example: ledger consent show 0x5f...e1 --json
    """
    with _open(data_dir, rpc) as ledger:
        shown = ledger.consents().show(consent_id)
    if as_json:
        print_json(shown)
        return
    table = Table(show_header=False, box=None)
    for key in ("consent_id", "status", "valid_from", "valid_until", "revoked_at"):
        table.add_row(key, str(shown[key] or "-"))
    receipt = shown["receipt"] or {}
    table.add_row("purposes", ", ".join(receipt.get("purposes", [])) or "-")
    table.add_row("recipients", ", ".join(receipt.get("recipients", [])) or "-")
    table.add_row("commitment", shown["commitment"])
    chain = shown.get("chain_status") or {}
    table.add_row("on chain", f"block {chain.get('recorded_block', '-')}")
    console.print(table)


@command
def erase(
    subject: Annotated[
        str,
        typer.Argument(
            envvar="LEDGER_SUBJECT_ID",
            help="The borrower's ID number (or set LEDGER_SUBJECT_ID).",
            show_default=False,
        ),
    ],
    id_type: IdTypeOpt = "10",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a borrower (PIPL Art. 47): records, salts, consent receipts, pseudonyms.

    Needs only the store and the pseudonym key: the chain is untouched. The
    erased leaves' hashes stay in their batches, so every other proof still
    holds; verifying an erased record answers "erased".

    Example: ledger erase 110101199003070015
    """
    who = _subject(id_type, subject)
    settings = settings_for(data_dir)
    from ledger.privacy import default_desensitiser

    pseudonym = default_desensitiser(settings.data_dir).pseudonym(
        "subject_pseudonym", who.as_record()
    )
    store = Store.for_settings(settings)
    try:
        report = erase_subject(store, pseudonym, requested_by="cli")
    finally:
        store.close()
    for what in report.left_on_disk:  # on stderr, with --json too
        err_console.print(f"warning: {what}", markup=False, soft_wrap=True)
    if as_json:
        print_json(report.to_json())
        return
    console.print(
        f"erased {report.records} record(s), {report.consents} consent receipt(s) and "
        f"unlinked {report.inquiries} inquiry(ies); erasure {report.erasure_id}"
    )
