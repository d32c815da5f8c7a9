"""``ledger demo``'s risk-warning steps: a second month rolls co-funded loans; their bank's
receiver gets signed alerts, verifies them and their proof bundles, and acknowledges one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from ledger.alerts.destinations import Allowlist
from ledger.alerts.dispatcher import DispatchConfig, Dispatcher
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.outbox import acknowledge
from ledger.alerts.sealing import Sealer
from ledger.anchoring.bundles import bundle_for
from ledger.client import WebhookError, WebhookReceiver
from ledger.config import Settings
from ledger.errors import IntegrityError
from ledger.proofs import verify_bundle
from ledger.records.readers import write_csv
from ledger.store.apikeys import create_key
from ledger.wiring import Ledger

#: Loans the second month's file reports (co-funded, overdue, in a band that can still roll).
ROLLED_LOANS: Final = 5
DAYS_PER_MONTH: Final = 30
_LAST_ROLLING_DPD: Final = 150  # +30 days still moves such a loan up one band (of 7)


def next_month(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def second_month(rows: list[dict[str, Any]], skip: set[str]) -> list[dict[str, Any]]:
    """The same co-funded overdue loans a month later, each 30 more days past due."""
    chosen = [
        r
        for r in rows
        if r.get("funders")
        and r.get("account_status") == "2"
        and 1 <= int(r.get("days_past_due") or 0) <= _LAST_ROLLING_DPD
        and r["report_id"] not in skip
    ][:ROLLED_LOANS]
    later = []
    for row in chosen:
        period = next_month(str(row["period"]))
        later.append(
            {
                **row,
                "report_id": f"{row['report_id']}-M2",
                "period": period,
                "report_date": f"{period}-28",
                "days_past_due": int(row["days_past_due"]) + DAYS_PER_MONTH,
            }
        )
    return later


class _Inbox:
    """What the bank's webhook received and verified."""

    def __init__(self) -> None:
        self.receiver: WebhookReceiver | None = None
        self.alerts: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()


@contextmanager
def bank_webhook(inbox: _Inbox) -> Iterator[str]:
    """A bank's webhook on loopback that keeps only deliveries its receiver verifies."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                assert inbox.receiver is not None
                envelope = inbox.receiver.verify(self.headers, body)
            except WebhookError:
                with inbox.lock:
                    inbox.refused += 1
                self.send_response(400)
            else:
                with inbox.lock:
                    inbox.alerts.append({"id": self.headers["webhook-id"], **envelope})
                self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


def alert_steps(
    settings: Settings, rows: list[dict[str, Any]], skip: set[str], say: Callable[[str], None]
) -> dict[str, Any]:
    """Steps 9-10 of the demo: the second month, delivery, verification, acknowledgement."""
    later = second_month(rows, skip)
    bank = str(later[0]["funders"][0]["org_code"])
    month2 = settings.data_dir / "portfolio-month2.csv"
    write_csv(later, month2)
    inbox = _Inbox()
    allow = Allowlist.parse(("127.0.0.1",))
    with bank_webhook(inbox) as url, Ledger.open(settings, holder="ledger demo") as ledger:
        create_key(ledger.store, "demo-bank", "partner", institution=bank)
        sealer = Sealer.for_data_dir(settings.data_dir)
        _, issued = set_endpoint(ledger.store, sealer, bank, url, allow=allow)
        assert issued is not None
        inbox.receiver = WebhookReceiver(secret=issued.secret, public_key=issued.public_key)
        report = ledger.submitter().submit(month2)
        say(
            f"9. alerts   a month later {len(later)} co-funded loans are 30 days "
            f"further overdue ({report.accepted} accepted); bank {bank}'s webhook at {url}"
        )
        loopback = settings.model_copy(update={"alert_allow_hosts": ("127.0.0.1",)})
        Dispatcher(ledger.store, sealer, DispatchConfig.from_settings(loopback)).run(once=True)
        rolled = [a for a in inbox.alerts if a["type"] == "overdue.bucket_rolled"]
        first = rolled[0]
        data = first["data"]
        bundle = bundle_for(ledger.store, data["leaf_hash"])
        verify_bundle(bundle)  # the alert's basis: its record, in the anchored tree
        if "0x" + bundle.root.hex() != data["anchor"]["root"]:
            raise IntegrityError("the alert's anchor is not its proof bundle's root")
        with ledger.store.session() as s, s.begin():
            ack = acknowledge(s, bank, first["id"], by="demo-bank risk desk")
        say(
            f"           {len(inbox.alerts)} signed alert(s) received and verified "
            f"({len(rolled)} overdue.bucket_rolled, {inbox.refused} refused); loan "
            f"{data['loan_ref']} band {data['bucket']['from']}->{data['bucket']['to']}, "
            f"{data['days_past_due']} days past due, bank share {data['overdue_amount_share']}"
        )
        say(
            f"10. ack     its proof bundle verifies (leaf {data['leaf_hash'][:18]}…, anchored in "
            f"tx 0x{bundle.anchor.tx_hash.hex()[:16]}…); acknowledged {ack.acknowledged_at}"
        )
    return {
        "bank": bank,
        "received": len(inbox.alerts),
        "refused": inbox.refused,
        "rolled": len(rolled),
        "acknowledged": first["id"],
        "bundle_root": "0x" + bundle.root.hex(),
    }
