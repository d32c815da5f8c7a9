"""``ledger demo``: the whole flow on the embedded chain, in a fresh data dir."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.anchoring.bundles import bundle_for
from ledger.cli._common import DataDirOpt, JsonOpt, command, console, ensure_data_dir, print_json
from ledger.config import Settings
from ledger.errors import ErasedError, InputError, LedgerError
from ledger.proofs import ProofBundle, bundle_text, verify_bundle
from ledger.records.generate import synthetic_rows
from ledger.records.readers import write_csv

if TYPE_CHECKING:
    from ledger.wiring import Ledger

#: Small enough to finish in seconds, large enough for several batches and rejections.
DEMO_ROWS = 2_000
DEMO_BATCH = 500


@command
def demo(
    data_dir: DataDirOpt = None,
    rows: Annotated[int, typer.Option("--rows", min=10, help="Synthetic rows.")] = DEMO_ROWS,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole flow, init to risk alerts, on the embedded chain.

    Generates a synthetic portfolio (valid ID numbers, a spread of statuses and
    some invalid rows) in a fresh data dir and shows what happened at each step.

    Example: ledger demo
    """
    # Imported here: the chain stack takes seconds to load, and other commands do without it.
    from ledger.chain import deploy, open_chain
    from ledger.chain.attest import check_anchor
    from ledger.chain.signer import load_account
    from ledger.wiring import Ledger

    target = data_dir or Path(tempfile.mkdtemp(prefix="credit-anchor-demo-"))
    if target.exists() and any(target.iterdir()):
        raise InputError(f"{target} is not empty; the demo needs a fresh data dir")
    settings = Settings(data_dir=target, rpc_url=None, batch_size=DEMO_BATCH)
    ensure_data_dir(target)

    def say(text: str) -> None:
        if not as_json:
            console.print(text)

    summary: dict[str, Any] = {"data_dir": str(target)}

    say(f"[bold]CreditAnchor demo[/bold] — data dir {target}")
    account = load_account(target)
    say(f"1. init     chain account {account.address.lower()} (key file mode 0600)")
    with open_chain(settings, holder="ledger demo") as chain:
        deployment, _ = deploy(chain, target)
    summary["deployment"] = deployment.to_json()
    say(f"2. deploy   AnchorRegistry {deployment.anchor_registry}")
    say(f"            ConsentRegistry {deployment.consent_registry}")

    portfolio = target / "portfolio.csv"
    write_csv(synthetic_rows(rows, seed=2026, invalid_ratio=0.03), portfolio)
    with Ledger.open(settings, holder="ledger demo") as ledger:
        report = ledger.submitter().submit(portfolio)
        summary["submission"] = {
            "accepted": report.accepted,
            "rejected": report.rejected,
            "batches": [b.batch_id for b in report.batches],
        }
        say(
            f"3. submit   {rows} rows: {report.accepted} accepted, {report.rejected} rejected, "
            f"{len(report.batches)} batches anchored"
        )
        for b in report.batches:
            blk = b.block_number
            say(f"            batch {b.batch_id[:18]}… {b.tree_size} records, block {blk}")
        for r in report.rejections[:5]:
            say(f"            rejected row {r.row_number}: {r.field} — {r.reason}")
        first = report.batches[0]
        bundle = bundle_for(ledger.store, _some_leaf(ledger, first.batch_id))
        bundle_file = target / "bundle.json"
        bundle_file.write_text(bundle_text(bundle) + "\n", encoding="utf-8")
        record_id = bundle.record.get("record_id") if bundle.record else None
        say(f"4. bundle   record {record_id} -> {bundle_file}")
        loaded = ProofBundle.loads(bundle_file.read_bytes())
        verify_bundle(loaded)
        check_anchor(ledger.chain, loaded)
        say("5. verify   math OK offline; anchor and its transaction confirmed on chain")
        summary["verified"] = _tampered_is_refused(loaded)
    say(
        "   tampering one byte of the record makes verification fail: "
        + ("yes" if summary["verified"] else "NO")
    )
    with Ledger.open(settings, holder="ledger demo") as ledger:
        leaf = "0x" + bundle.leaf_hash.hex()
        summary["consent"] = _consent_steps(ledger, portfolio, str(record_id), leaf, say)
    from ledger.cli.demo_alerts import alert_steps

    month1 = list(synthetic_rows(rows, seed=2026, invalid_ratio=0.03))  # the portfolio's rows
    summary["alerts"] = alert_steps(settings, month1, {str(record_id)}, say)
    summary["console"] = _console_steps(target, say)
    if as_json:
        print_json(summary)


def _console_steps(target: Path, say: Callable[[str], None]) -> dict[str, str]:
    """Where the web console of this data dir would be served, and how to open it."""
    from ledger.cli.api_cmds import DEFAULT_HOST, DEFAULT_PORT

    url = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/ui/"
    serve = f"ledger serve --data-dir {target}"
    key = f"ledger partner add auditor-1 --role auditor --data-dir {target}"
    say(f"11. console {url}")
    say(f"            serve it:   {serve}")
    say(f"            a key:      {key}")
    say(f"            open it:    xdg-open {url}   (or any browser on this machine)")
    return {"url": url, "serve": serve, "key": key}


def _consent_steps(
    ledger: Ledger, portfolio: Path, record_id: str, leaf: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """Consent, checks, withdrawal, the anchored inquiry log and erasure of one borrower."""
    from datetime import UTC, datetime, timedelta

    from ledger.consent import Subject, parse_grant
    from ledger.consent.erasure import erase_subject
    from ledger.records.readers import read_rows

    row = next(
        r.fields for r in read_rows(portfolio) if r.fields and r.fields["report_id"] == record_id
    )
    subject = Subject(id_type=str(row["subject_id_type"]), id_number=str(row["subject_id_number"]))
    now = datetime.now(UTC).replace(microsecond=0)
    grant = parse_grant(
        {
            "subject": subject.model_dump(),
            "controller": {"name": "Demo Lending Co.", "institution": "LENDER-1"},
            "notice": {"version": "2026.1", "hash": "0x" + "11" * 32},
            "purposes": ["LOAN_APPROVAL", "POST_LOAN_MANAGEMENT"],
            "data_categories": ["identity", "loan_account", "repayment"],
            "recipients": ["BANK-A", "LENDER-1"],
            "separate_consent": True,
            "written_form": True,
            "evidence": {"method": "e-signature", "document_hash": "0x" + "22" * 32},
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=365)).isoformat(),
        }
    )
    consents = ledger.consents()
    (consent,) = consents.grant([grant])
    say(f"6. consent  {consent.consent_id[:18]}… recorded on chain (block {consent.block_number})")
    checks = [
        consents.check(subject, institution=bank, purpose=purpose, requested_by="demo")
        for bank, purpose in (("BANK-A", "LOAN_APPROVAL"), ("BANK-B", "LOAN_APPROVAL"))
    ]
    consents.revoke(consent.consent_id)
    checks.append(
        consents.check(subject, institution="BANK-A", purpose="LOAN_APPROVAL", requested_by="demo")
    )
    for c in checks:
        verdict = "granted" if c.granted else "refused"
        say(f"            check by {c.institution}: {verdict} ({c.reason})")
    sealed = ledger.anchor_inquiries(force=True)
    say(f"7. inquiry  {len(checks)} checks logged and anchored as inquiry batch {sealed[0][:18]}…")
    pseudonym = consents.pseudonym(subject)
    erased = erase_subject(ledger.store, pseudonym, requested_by="demo")
    try:
        bundle_for(ledger.store, leaf)
        answer = "still there (unexpected)"
    except ErasedError:
        answer = "erased"
    say(
        f"8. erase    the borrower's {erased.records} record(s) and {erased.consents} consent "
        f"receipt(s) are gone; the proof of leaf {leaf[:18]}… now answers: {answer}"
    )
    return {
        "consent_id": consent.consent_id,
        "checks": [c.to_json() for c in checks],
        "inquiry_batches": sealed,
        "erasure": erased.to_json(),
    }


def _some_leaf(ledger: Ledger, batch_id: str) -> str:
    from ledger.store import leaves

    with ledger.store.session() as s:
        leaf = leaves.leaf_at(s, batch_id, 17) or leaves.leaf_at(s, batch_id, 0)
    assert leaf is not None and leaf.record_id is not None
    return leaf.record_id


def _tampered_is_refused(bundle: ProofBundle) -> bool:
    data = bundle.to_json()
    record = dict(data["record"])  # type: ignore[call-overload]
    record["balance"] = "0.01" if record.get("balance") != "0.01" else "0.02"
    data["record"] = record
    try:
        verify_bundle(ProofBundle.from_json(data))
    except LedgerError:
        return True
    return False
