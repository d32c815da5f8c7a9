"""Each bank's own, thin alert: what one funder of a loan may learn from one event.

A payload names the loan only by a bank-scoped reference: an HMAC of the
account pseudonym under a key of that institution's own, derived from the
platform's account key, so two banks cannot link their references and neither
learns the pseudonym. It carries days past due, bands, statuses, the bank's
share of the amounts, the period and the leaf hash and batch of the record (the
proof bundle of that leaf is the alert's basis). Never a name, ID number,
mobile, pseudonym, region or age band: every payload passes the leak guard,
with the account's pseudonym as a canary, before it is queued.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

import polars as pl

from ledger.alerts.events import LEAF
from ledger.alerts.outbox import NewAlert
from ledger.alerts.plan import Plan
from ledger.privacy.errors import LeakDetected
from ledger.privacy.leakguard import LeakGuard

#: Domain of the per-institution keys (HMAC of this and the institution code under the root).
LOAN_REF_DOMAIN: Final = b"credit-anchor/loan-ref/v1\x00"
LOAN_REF_PREFIX: Final = "lr_"
BASIS_POINTS: Final = 10_000
_CENT: Final = Decimal("0.01")
_GUARD: Final = LeakGuard()
#: Hex tokens as long as a pseudonym (``0x`` + 64 digits) or longer.
_HEX_TOKEN: Final = re.compile(r"0x[0-9a-f]{64,}")


class LoanRefs:
    """Bank-scoped loan references under one root secret (one key per institution)."""

    def __init__(self, root: bytes) -> None:
        self._root = root
        self._keys: dict[str, bytes] = {}

    def ref(self, institution: str, account: str) -> str:
        key = self._keys.get(institution)
        if key is None:
            key = hmac.digest(self._root, LOAN_REF_DOMAIN + institution.encode(), "sha256")
            self._keys[institution] = key
        return LOAN_REF_PREFIX + hmac.digest(key, account.encode(), "sha256")[:16].hex()


def loan_refs(account_secret: bytes) -> LoanRefs:
    """The references under the platform's account pseudonym key (domain-separated)."""
    root = hmac.digest(account_secret, b"credit-anchor/loan-ref-root/v1", hashlib.sha256)
    return LoanRefs(root)


def share(amount: str | None, share_bp: int) -> str | None:
    """``share_bp`` basis points of a decimal amount, to the cent (banker's rounding)."""
    if amount is None:
        return None
    try:
        value = Decimal(amount) * share_bp / BASIS_POINTS
    except InvalidOperation:
        return None
    return str(value.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def bank_alerts(
    events: pl.DataFrame,
    plan: Plan,
    refs: LoanRefs,
    batch_id: str,
    anchor: Mapping[str, object] | None = None,
) -> list[NewAlert]:
    """Per event (a row of :func:`~ledger.alerts.events.transitions`), one alert per funder.

    ``anchor``: where the batch is anchored (chain id, registry, kind, Merkle root),
    so the bank can find the anchor of the record's proof bundle on chain.

    The leak guard reads them all at once: personal numbers anywhere in them, and
    any account pseudonym of these events (64-hex-digit tokens, matched as a set).
    Raises :class:`~ledger.privacy.errors.LeakDetected` naming the field, never a value.
    """
    alerts: list[NewAlert] = []
    for row in events.iter_rows(named=True):
        for funder in row["funders"] or ():
            institution, share_bp = funder["org_code"], funder["share_bp"]
            data = {
                "loan_ref": refs.ref(institution, row["account"]),
                "period": row["period"],
                "days_past_due": row["dpd"],
                "severity": plan.severity(row["dpd"]),
                "bucket": {"from": row["prev_bucket"], "to": row["bucket"]},
                "principal_bucket": {
                    "from": row["prev_principal_bucket"],
                    "to": row["principal_bucket"],
                },
                "status": {"from": row["prev_status"], "to": row["status"]},
                "five_class": {"from": row["prev_five_class"], "to": row["five_class"]},
                "share_bp": share_bp,
                "balance_share": share(row["balance"], share_bp),
                "overdue_amount_share": share(row["overdue_amount"], share_bp),
                "leaf_hash": row[LEAF],
                "batch_id": batch_id,
            }
            if anchor is not None:
                data["anchor"] = dict(anchor)
            alerts.append(NewAlert(institution, row["event"], data, batch_id))
    if alerts:
        _guard(alerts, set(events.get_column("account").to_list()))
    return alerts


def _guard(alerts: list[NewAlert], accounts: set[str]) -> None:
    """The leak guard over every payload, and no account pseudonym in any of them."""
    payloads: dict[str, object] = {
        f"{a.event_type}[{i}]": dict(a.data) for i, a in enumerate(alerts)
    }
    _GUARD.check(payloads, ())
    text = "\x00".join(str(v) for a in alerts for v in a.data.values())
    if any(token in accounts for token in _HEX_TOKEN.findall(text)):
        for name, value in (item for a in alerts for item in a.data.items()):
            if any(token in accounts for token in _HEX_TOKEN.findall(str(value))):
                raise LeakDetected(field=name, kind="account pseudonym")
