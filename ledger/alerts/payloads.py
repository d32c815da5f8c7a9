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
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final, TypeVar

import orjson
import polars as pl

from ledger.alerts.events import ENGINE, LEAF
from ledger.alerts.outbox import BATCH, DATA, INSTITUTION, TYPE
from ledger.alerts.plan import Plan
from ledger.privacy.errors import LeakDetected
from ledger.privacy.leakguard import LeakGuard

#: Domain of the per-institution keys (HMAC of this and the institution code under the root).
LOAN_REF_DOMAIN: Final = b"credit-anchor/loan-ref/v1\x00"
LOAN_REF_PREFIX: Final = "lr_"
BASIS_POINTS: Final = 10_000
_GUARD: Final = LeakGuard()
#: Hex tokens as long as a pseudonym (``0x`` + 64 digits) or longer.
_HEX_TOKEN: Final = re.compile(r"0x[0-9a-f]{64,}")


class LoanRefs:
    """Bank-scoped loan references under one root secret (one key per institution)."""

    def __init__(self, root: bytes) -> None:
        self._root = root
        self._keys: dict[str, bytes] = {}

    def ref(self, institution: str, account: str) -> str:
        return self.refs([institution], [account])[0]

    def refs(self, institutions: list[str], accounts: list[str]) -> list[str]:
        """The reference of each (institution, account) pair."""
        keys = {institution: self._key(institution) for institution in set(institutions)}
        digest = hmac.digest
        return [
            LOAN_REF_PREFIX + digest(keys[institution], account.encode(), "sha256")[:16].hex()
            for institution, account in zip(institutions, accounts, strict=True)
        ]

    def _key(self, institution: str) -> bytes:
        key = self._keys.get(institution)
        if key is None:
            key = hmac.digest(self._root, LOAN_REF_DOMAIN + institution.encode(), "sha256")
            self._keys[institution] = key
        return key


def loan_refs(account_secret: bytes) -> LoanRefs:
    """The references under the platform's account pseudonym key (domain-separated)."""
    root = hmac.digest(account_secret, b"credit-anchor/loan-ref-root/v1", hashlib.sha256)
    return LoanRefs(root)


_DECIMAL: Final = r"^(?P<whole>[0-9]{1,9})(?:\.(?P<cents>[0-9]{1,2}))?$"


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
#: The amounts a bank's payload carries its share of, and the names of the shares.
SHARED: Final = {"balance": "balance_share", "overdue_amount": "overdue_amount_share"}


def with_shares(frame: Frame, amounts: Mapping[str, str], share_bp: str = "share_bp") -> Frame:
    """``frame`` with, for each ``amount -> name`` of ``amounts``, column ``name``: the
    ``share_bp`` basis points of that decimal amount (text), to the cent, a tie to the
    even cent (banker's rounding), as text; null where the amount is not a decimal.

    Exact: an amount has at most 9 whole digits (as validation allows; a longer one
    is null here), so cents times basis points fit 64 bits. Three steps, each reading
    the last one's columns: one expression holding all of it repeats its parts, and
    polars plans it slowly."""
    parts = {name: pl.col(amount).str.extract_groups(_DECIMAL) for amount, name in amounts.items()}
    scaled = frame.with_columns(
        (
            part.struct.field("whole").cast(pl.Int64) * 100
            + part.struct.field("cents").fill_null("").str.pad_end(2, "0").cast(pl.Int64)
        )
        .mul(pl.col(share_bp))
        .alias(name)
        for name, part in parts.items()
    )
    half = BASIS_POINTS // 2  # x.5 cent rounds up, but to x cents when x is even
    cents = scaled.with_columns(
        ((pl.col(name) + half) // BASIS_POINTS - (pl.col(name) % (2 * BASIS_POINTS) == half))
        for name in amounts.values()
    )
    return cents.with_columns(
        pl.concat_str(
            (pl.col(name) // 100).cast(pl.String),
            pl.lit("."),
            (pl.col(name) % 100).cast(pl.String).str.zfill(2),
        )
        for name in amounts.values()
    )


def _moved(name: str) -> pl.Expr:
    return pl.struct(pl.col("prev_" + name).alias("from"), pl.col(name).alias("to")).alias(name)


def bank_alerts(
    events: pl.DataFrame,
    plan: Plan,
    refs: LoanRefs,
    batch_id: str,
    anchor: Mapping[str, object] | None = None,
) -> pl.DataFrame:
    """Per event (a row of :func:`~ledger.alerts.events.transitions`), one alert per funder:
    a frame of :data:`INSTITUTION`, :data:`TYPE`, :data:`BATCH` and :data:`DATA`
    (the payload, a struct), in event order.

    ``anchor``: where the batch is anchored (chain id, registry, kind, Merkle root),
    so the bank can find the anchor of the record's proof bundle on chain.

    The leak guard reads them all at once: personal numbers anywhere in them, and
    any account pseudonym of these events (64-hex-digit tokens, matched as a set).
    Raises :class:`~ledger.privacy.errors.LeakDetected` naming the field, never a value.
    """
    return payloads(funder_rows(events.lazy()).collect(engine=ENGINE), plan, refs, batch_id, anchor)


def funder_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    """Each event once per funder of its record (``org_code``, ``share_bp``), with the
    funder's shares of the amounts: what :func:`payloads` makes the alerts of."""
    return with_shares(events.explode("funders").drop_nulls("funders").unnest("funders"), SHARED)


def payloads(
    per_bank: pl.DataFrame,
    plan: Plan,
    refs: LoanRefs,
    batch_id: str,
    anchor: Mapping[str, object] | None = None,
) -> pl.DataFrame:
    """:func:`bank_alerts` of the events' :func:`funder_rows` (collected)."""
    return batched(unbatched(per_bank, plan, refs), batch_id, anchor)


@dataclass(frozen=True)
class Unbatched:
    """Alerts made and guarded but for what their batch's storing gives (its id and
    anchor): :data:`INSTITUTION`, :data:`TYPE` and :data:`DATA`; ``accounts``: the
    pseudonyms they were made from, which no field added later may carry either."""

    alerts: pl.DataFrame
    accounts: frozenset[str]


def unbatched(per_bank: pl.DataFrame, plan: Plan, refs: LoanRefs) -> Unbatched:
    """The payloads of :func:`funder_rows` (collected), guarded, without the batch's
    fields (:func:`batched` adds them): what needs no database, on any thread."""
    if per_bank.is_empty():
        return Unbatched(
            pl.DataFrame(schema={INSTITUTION: pl.String, TYPE: pl.String}).with_columns(
                pl.lit({}).alias(DATA)
            ),
            frozenset(),
        )
    institutions = per_bank.get_column("org_code").to_list()
    accounts = per_bank.get_column("account").to_list()
    dpds = per_bank.get_column("dpd").unique().to_list()
    loan_refs = refs.refs(institutions, accounts)
    fields = [
        pl.Series("loan_ref", loan_refs, dtype=pl.String),
        pl.col("period"),
        pl.col("dpd").alias("days_past_due"),
        pl.col("dpd")
        .replace_strict(dpds, [plan.severity(d) for d in dpds], return_dtype=pl.String)
        .alias("severity"),
        *(_moved(name) for name in ("bucket", "principal_bucket", "status", "five_class")),
        pl.col("share_bp"),
        pl.col("balance_share"),
        pl.col("overdue_amount_share"),
        pl.col(LEAF),
    ]
    alerts = per_bank.select(
        pl.col("org_code").alias(INSTITUTION),
        pl.col("event").alias(TYPE),
        pl.struct(fields).alias(DATA),
    )
    made = Unbatched(alerts, frozenset(accounts))
    _guard(alerts, made.accounts, {})
    return made


def batched(
    made: Unbatched, batch_id: str, anchor: Mapping[str, object] | None = None
) -> pl.DataFrame:
    """:func:`unbatched` alerts with their batch: :data:`BATCH`, and in each payload the
    batch id and ``anchor``, where the batch is anchored (chain id, registry, kind,
    Merkle root). What every alert of the batch shares is guarded once, not once per
    alert."""
    if made.alerts.is_empty():
        return made.alerts.select(INSTITUTION, TYPE, pl.lit(None, pl.String).alias(BATCH), DATA)
    shared: dict[str, object] = {BATCH: batch_id}
    if anchor is not None:
        shared["anchor"] = dict(anchor)
    _guard(made.alerts.clear(), made.accounts, shared)
    return made.alerts.select(
        INSTITUTION,
        TYPE,
        pl.lit(batch_id, dtype=pl.String).alias(BATCH),
        pl.col(DATA).struct.with_fields(
            pl.lit(value).alias(name) for name, value in shared.items()
        ),
    )


def _guard(alerts: pl.DataFrame, accounts: AbstractSet[str], shared: Mapping[str, object]) -> None:
    """The leak guard over every payload's text at once, and no account pseudonym in any;
    ``shared``: the fields every payload will also carry.

    Only when something is found are the payloads read one by one, to name the field."""
    text = alerts.select(pl.col(DATA).struct.json_encode().str.join("\x00")).item() or ""
    text += "\x00" + orjson.dumps(shared).decode()
    try:
        _GUARD.check({DATA: text}, ())
        leaked = any(token in accounts for token in _HEX_TOKEN.findall(text))
    except LeakDetected:
        leaked = True
    if not leaked:
        return
    for data in [shared, *alerts.get_column(DATA).to_list()]:
        _GUARD.check(data, ())
        for name, value in data.items():
            if any(token in accounts for token in _HEX_TOKEN.findall(str(value))):
                raise LeakDetected(field=name, kind="account pseudonym")
