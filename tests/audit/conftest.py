"""A populated ledger to audit: credit-data batches, consents, a withdrawal, sealed inquiries.

The ledger is built once per module on the embedded chain (or on anvil) and
copied per test, so each test tampers with its own store and chain files. The store
is SQLite or PostgreSQL (``module_db_url``): a PostgreSQL store is copied per test as
a new database made from the module's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ledger.audit import AuditReport, AuditTarget, audit, export_records
from ledger.chain import Chain, Deployment, deploy
from ledger.config import Settings
from ledger.consent import Subject
from ledger.records import write_csv
from ledger.records.generate import synthetic_rows
from ledger.store import Consent, Inquiry, Store
from ledger.wiring import Ledger
from tests._postgres import Cluster
from tests.conftest import AnvilNode, copy_deployment, rpc_chain
from tests.consent.conftest import BANK, T0, make_grant

ROWS = 25
BATCH_SIZE = 10  # three credit-data batches: 10, 10, 5


@dataclass(frozen=True)
class Populated:
    """What was put in, by id (no personal data)."""

    data_dir: Path
    granted_inquiry: str  # sealed, granted, covered
    refused_inquiry: str  # sealed, refused
    valid_consent: str
    revoked_consent: str  # withdrawn on chain
    rpc_url: str | None = None
    #: The store's URL (None: the data dir's SQLite file).
    db_url: str | None = None


def populate(
    data_dir: Path, tmp: Path, rpc_url: str | None = None, db_url: str | None = None
) -> Populated:
    settings = Settings(data_dir=data_dir, rpc_url=rpc_url, db_url=db_url, batch_size=BATCH_SIZE)
    rows = list(synthetic_rows(ROWS, seed=11, invalid_ratio=0))
    source = tmp / "in.csv"
    write_csv(rows, source)
    subject = {
        "id_type": str(rows[0]["subject_id_type"]),
        "id_number": str(rows[0]["subject_id_number"]),
    }
    with Ledger.open(settings, holder="pytest") as ledger:
        ledger.submitter().submit(source)
        consents = ledger.consents()
        valid, revoked = consents.grant([make_grant(subject=subject), make_grant(subject=subject)])
        consents.revoke(revoked.consent_id, T0 + timedelta(days=10))
        who = Subject(**subject)
        granted = consents.check(
            who,
            institution=BANK,
            purpose="LOAN_APPROVAL",
            requested_by="t",
            at=T0 + timedelta(days=1),
        )
        refused = consents.check(
            who, institution="BANK-Z", purpose="LOAN_APPROVAL", requested_by="t", at=T0
        )
        ledger.anchor_inquiries(force=True)
    assert granted.granted and not refused.granted
    return Populated(
        data_dir,
        granted.inquiry_id,
        refused.inquiry_id,
        valid.consent_id,
        revoked.consent_id,
        rpc_url,
        db_url,
    )


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, module_db_url: str | None, deployed_template: Path
) -> Populated:
    tmp = tmp_path_factory.mktemp("audit-template")
    data_dir = copy_deployment(deployed_template, tmp / "data")  # what `ledger deploy` leaves
    return populate(data_dir, tmp, db_url=module_db_url)


@pytest.fixture
def ledger_dir(
    request: pytest.FixtureRequest, template: Populated, tmp_path: Path
) -> Iterator[Populated]:
    """A private copy of the populated ledger (store and embedded chain)."""
    target = tmp_path / "data"
    shutil.copytree(template.data_dir, target)
    if template.db_url is None:
        yield Populated(**{**template.__dict__, "data_dir": target})
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    url = cluster.copy(template.db_url)
    yield Populated(**{**template.__dict__, "data_dir": target, "db_url": url})
    cluster.drop_database(str(make_url(url).database))


def populate_on_anvil(node: AnvilNode, data_dir: Path, tmp: Path) -> Populated:
    with rpc_chain(node, data_dir) as chain:
        deploy(chain, data_dir, force=True)
    return populate(data_dir, tmp, node.url)


def run_audit(
    ledger: Populated,
    *,
    rpc_url: str | None = None,
    store: bool = True,
    records: Path | None = None,
    db_url: str | None = None,
    **kwargs: Any,
) -> AuditReport:
    """Audit as an auditor would: read-only chain, the store (or ``db_url``) as it is now."""
    deployment = Deployment.load(ledger.data_dir / "deployment.json")
    url = rpc_url or ledger.rpc_url
    opened = Store.open(ledger.data_dir, db_url or ledger.db_url) if store else None
    try:
        if url is None:
            chain = Chain.embedded(ledger.data_dir, holder="pytest audit", read_only=True)
        else:
            from eth_account import Account

            chain = Chain.json_rpc(url, Account.create())
            chain.read_only = True
        with chain:
            report, _ = audit(
                chain, AuditTarget.of(deployment), store=opened, records=records, **kwargs
            )
    finally:
        if opened is not None:
            opened.close()
    return report


def export_to(ledger: Populated, path: Path) -> Path:
    store = Store.open(ledger.data_dir, ledger.db_url)
    try:
        with path.open("w", encoding="utf-8") as out:
            export_records(store, out)
    finally:
        store.close()
    return path


def edit_store(ledger: Populated, change: Callable[[Any], None]) -> None:
    """Run ``change(session)`` on the ledger's store in one transaction."""
    store = Store.open(ledger.data_dir, ledger.db_url)
    try:
        with store.session() as s, s.begin():
            change(s)
    finally:
        store.close()


def consent_row(s: Any, consent_id: str) -> Consent:
    return s.get_one(Consent, consent_id)


def inquiry_row(s: Any, inquiry_id: str) -> Inquiry:
    return s.scalars(select(Inquiry).where(Inquiry.inquiry_id == inquiry_id)).one()


def codes(report: AuditReport) -> set[str]:
    return {f.code for f in report.failing}
