"""The alert outbox: alerts are written in the transaction of the batch that caused them.

:func:`enqueue` adds rows to the caller's open session and never commits: an
alert exists exactly when the submission batch that caused it was stored, so none
is lost and none announces data that never landed. The dispatcher
(:mod:`ledger.alerts.dispatcher`) pushes what the outbox holds to the banks'
webhooks; banks without one read it with :func:`alerts_after` (the API's
``GET /v1/alerts?after=CURSOR``) and answer with :func:`acknowledge`.

Each alert's body is fixed once, here: the Standard Webhooks envelope
``{"type", "timestamp", "data"}`` in RFC 8785 form, the exact bytes every
delivery sends and signs, and every pull returns.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import polars as pl
from polars._typing import PolarsDataType
from sqlalchemy import ColumnElement, Select, Table, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.alerts.errors import UnknownAlertError
from ledger.errors import InputError
from ledger.proofs import CanonicalFormError, canonical_records
from ledger.proofs.canonical import MAX_SAFE_INTEGER
from ledger.proofs.jcs_frames import jcs_texts
from ledger.store import Batch
from ledger.store.alerts import Acknowledgement, Alert, AlertDelivery, WebhookEndpoint
from ledger.store.apikeys import check_institution
from ledger.store.db import insert_many
from ledger.webhook_signatures import WEBHOOK_ID

#: The spec asks for small payloads (under 20 kB); a thin alert is far smaller.
MAX_BODY_BYTES: Final = 64 * 1024
#: Alerts one :func:`alerts_after` call returns at most.
MAX_PAGE: Final = 1000
EVENT_TYPE: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*").fullmatch
MAX_EVENT_TYPE_CHARS: Final = 64
BATCH_ID: Final = re.compile(r"0x[0-9a-f]{64}").fullmatch
ID_PREFIX: Final = "msg_"
#: Taken by :func:`enqueue` on PostgreSQL until commit, so that alert sequence
#: numbers become visible in the order they were handed out (a cursor never
#: skips one that commits late). SQLite has one writer at a time anyway.
SEQUENCE_LOCK: Final = 0x41_4C_45_52_54  # "ALERT"
_ALERTS, _DELIVERIES = Alert.__table__, AlertDelivery.__table__
assert isinstance(_ALERTS, Table) and isinstance(_DELIVERIES, Table)
_INSERT_ALERT, _INSERT_DELIVERY = insert(_ALERTS), insert(_DELIVERIES)
_ALERT_COLUMNS: Final = ("id", "institution", "type", "body", "created_at", "batch_id")
_STAMP_DIGITS: Final = 12
_RANDOM_BYTES: Final = 10


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert for one bank, as the event producer hands it over."""

    #: The receiving bank's institution code (the funder's USCC, as
    #: ``ledger partner add --institution`` takes it).
    institution: str
    #: e.g. "overdue.entered", "overdue.bucket_rolled", "plan.level_changed".
    event_type: str
    #: The bank's thin payload, JSON data (already leak-guarded by the producer):
    #: strings, integers, booleans, null, lists, objects; amounts as decimal strings.
    data: Mapping[str, Any]
    #: The submission batch that caused it (None for plan events).
    batch_id: str | None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: ``seq`` is the pull cursor, ``id`` the ``webhook-id``."""

    seq: int
    id: str
    institution: str
    type: str
    body: bytes
    created_at: str
    batch_id: str | None

    def envelope(self) -> dict[str, Any]:
        """The body parsed: ``{"data": ..., "timestamp": ..., "type": ...}``."""
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass(frozen=True, slots=True)
class AckInfo:
    """An acknowledgement; ``first`` is False when the alert was acknowledged before."""

    alert_id: str
    institution: str
    acknowledged_at: str
    acknowledged_by: str
    note: str | None
    first: bool


def new_alert_id() -> str:
    """A fresh ``webhook-id``: ``msg_`` and 128 bits in hex (no full stop, as the spec
    asks of anything in the signed content); see :func:`new_alert_ids`."""
    return new_alert_ids(1)[0]


def new_alert_ids(count: int) -> list[str]:
    """``count`` fresh ids: the time in milliseconds (48 bits), then 80 bits from one read
    of the system's CSPRNG. Ordered by time as UUIDv7 orders its ids, so the unique index
    on ``alerts.id`` takes new ids at its end instead of on pages all over it."""
    stamp = f"{time.time_ns() // 1_000_000:0{_STAMP_DIGITS}x}"
    digits = secrets.token_hex(_RANDOM_BYTES * count)
    step = 2 * _RANDOM_BYTES
    return [ID_PREFIX + stamp + digits[i : i + step] for i in range(0, len(digits), step)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def utc_now(now: datetime | None = None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def enqueue(
    session: Session, alerts: Iterable[NewAlert], *, now: datetime | None = None
) -> list[str]:
    """Add ``alerts`` to the outbox in the caller's open transaction; their ids, in order.

    Nothing is committed here. Each alert for a bank with a webhook endpoint also
    gets a delivery row (pending, due at once; disabled if its endpoint is), so
    the dispatcher picks it up once the caller commits. Bad input (an invalid
    institution code, event type or batch id, data without a JSON form, a body over
    :data:`MAX_BODY_BYTES`) raises :class:`InputError` before anything is added.
    """
    moment = utc_now(now)
    created_at = iso(moment)
    batch = [_checked(alert) for alert in alerts]
    if not batch:
        return []
    envelopes = [{"type": a.event_type, "timestamp": created_at, "data": d} for a, d in batch]
    bodies = canonical_records(envelopes)  # one type walk over the whole batch
    rows = [(a.institution, a.event_type, a.batch_id) for a, _ in batch]
    return _add(
        session, [(i, t, body, b) for (i, t, b), body in zip(rows, bodies, strict=True)], moment
    )


#: The columns of a frame of alerts (:func:`enqueue_frame`): one row per alert, the
#: payload a struct of strings, integers and structs of those.
INSTITUTION: Final = "institution"
TYPE: Final = "event_type"
BATCH: Final = "batch_id"
DATA: Final = "data"


def enqueue_frame(session: Session, alerts: pl.DataFrame, *, now: datetime | None = None) -> int:
    """:func:`enqueue` for a frame of alerts (columns :data:`INSTITUTION`, :data:`TYPE`,
    :data:`BATCH`, :data:`DATA`), as ingest derives them; the number added.

    The same rules, once per distinct value; the bodies are written column-wise
    (:func:`~ledger.proofs.jcs_frames.jcs_texts`), the same bytes :func:`enqueue`
    writes for the same data (``tests/alerts/test_bodies.py``).
    """
    if alerts.is_empty():
        return 0
    moment = utc_now(now)
    integers = list(_integers(pl.col(DATA), alerts.schema[DATA]))
    *distinct, largest = alerts.select(  # one pass: the values to check, the largest integer
        *(pl.col(name).drop_nulls().unique().implode() for name in (INSTITUTION, TYPE, BATCH)),
        pl.max_horizontal(integers) if integers else pl.lit(None),
    ).row(0)
    checks = (check_institution, _check_event_type, _check_batch_id)
    for check, values in zip(checks, distinct, strict=True):
        for value in values:
            check(value)
    if not _json_type(alerts.schema[DATA]):
        raise CanonicalFormError("a value without an RFC 8785 form", path="$.data")
    if (largest or 0) > MAX_SAFE_INTEGER:
        raise CanonicalFormError("an integer outside ±(2**53 - 1)", path="$.data")
    envelopes = alerts.select(
        pl.col(DATA).alias("data"),
        pl.lit(iso(moment)).alias("timestamp"),
        pl.col(TYPE).alias("type"),
    )
    bodies = jcs_texts(envelopes, {}, "body").to_list()
    rows = alerts.select(INSTITUTION, TYPE, BATCH).rows()
    return len(
        _add(
            session,
            [(i, t, body.encode(), b) for (i, t, b), body in zip(rows, bodies, strict=True)],
            moment,
        )
    )


def _json_type(dtype: PolarsDataType) -> bool:
    """Whether values of ``dtype`` have an RFC 8785 form as :func:`enqueue` takes them."""
    if isinstance(dtype, pl.Struct):
        return all(_json_type(field.dtype) for field in dtype.fields)
    if isinstance(dtype, pl.List):
        return _json_type(dtype.inner)
    if dtype in (pl.String, pl.Boolean, pl.Null):
        return True
    return dtype.is_integer() and dtype != pl.UInt64


def _integers(expr: pl.Expr, dtype: PolarsDataType) -> Iterator[pl.Expr]:
    """The largest magnitude of each integer inside ``expr``'s struct values."""
    if isinstance(dtype, pl.Struct):
        for field in dtype.fields:
            yield from _integers(expr.struct.field(field.name), field.dtype)
    elif isinstance(dtype, pl.List):
        inner = _integers(expr.list.eval(pl.element().abs()), dtype.inner)
        yield from (e.list.max() for e in inner)
    elif dtype.is_integer():
        yield expr.abs().max()


def _add(
    session: Session, alerts: list[tuple[str, str, bytes, str | None]], moment: datetime
) -> list[str]:
    """Insert alerts (institution, event type, body, batch id) and their deliveries."""
    if (largest := max(len(body) for _, _, body, _ in alerts)) > MAX_BODY_BYTES:
        raise InputError(f"an alert's body is {largest} bytes, over {MAX_BODY_BYTES}")
    created_at = iso(moment)
    ids = new_alert_ids(len(alerts))
    # (id, institution, type, body, created_at, batch id): the insert's own order.
    rows = [
        (alert_id, institution, event_type, body, created_at, batch_id)
        for alert_id, (institution, event_type, body, batch_id) in zip(ids, alerts, strict=True)
    ]
    endpoints = dict(
        session.execute(
            select(WebhookEndpoint.institution, WebhookEndpoint.status).where(
                WebhookEndpoint.institution.in_({row[1] for row in rows})
            )
        ).all()
    )
    conn = session.connection()
    if conn.dialect.name == "sqlite":  # an ingest may add many thousands: few statements
        insert_many(conn, Alert.__tablename__, _ALERT_COLUMNS, rows)
    else:  # Core inserts on the session's connection
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCE_LOCK})
        conn.execute(_INSERT_ALERT, [dict(zip(_ALERT_COLUMNS, row, strict=True)) for row in rows])
    due_ms = to_ms(moment)
    deliveries = [
        {
            "alert_id": alert_id,
            "institution": institution,
            "state": "pending" if endpoints[institution] == "active" else "disabled",
            "attempts": 0,
            "due_ms": due_ms,
        }
        for alert_id, institution, *_ in rows
        if institution in endpoints
    ]
    if deliveries:
        conn.execute(_INSERT_DELIVERY, deliveries)
    return ids


def _check_event_type(event_type: str) -> None:
    if len(event_type) > MAX_EVENT_TYPE_CHARS or not EVENT_TYPE(event_type):
        raise InputError("an event type is dotted lower-case words, e.g. 'overdue.entered'")


def _check_batch_id(batch_id: str) -> None:
    if not BATCH_ID(batch_id):
        raise InputError("a batch id is 0x and 64 lower-case hex digits")


def _checked(alert: NewAlert) -> tuple[NewAlert, dict[str, Any]]:
    """The alert and its data as a dict, once its fields pass their rules."""
    check_institution(alert.institution)
    _check_event_type(alert.event_type)
    if alert.batch_id is not None:
        _check_batch_id(alert.batch_id)
    if not isinstance(alert.data, Mapping):
        raise InputError("an alert's data is a JSON object")
    return alert, alert.data if isinstance(alert.data, dict) else dict(alert.data)


def alerts_after(session: Session, institution: str, cursor: int, limit: int) -> list[StoredAlert]:
    """The institution's alerts with ``seq`` above ``cursor``, oldest first, at most ``limit``.

    A bank resumes from the last ``seq`` it read (0 for the start). Only its own
    alerts are ever returned, and only :func:`released` ones: the page ends before
    the first whose batch is not anchored yet, so a cursor never passes an alert
    that a bank could not see.
    """
    page = _page(cursor, limit).where(Alert.institution == institution)
    out = []
    for row, shown in session.execute(page.add_columns(released())):
        if not shown:
            break
        out.append(_stored(row))
    return out


def released() -> ColumnElement[bool]:
    """Whether an alert may reach its bank: its batch is anchored (or it has none, as a
    portfolio alert): nothing announces data whose anchor does not exist yet."""
    anchored = select(Batch.batch_id).where(
        Batch.batch_id == Alert.batch_id, Batch.status == "anchored"
    )
    return or_(Alert.batch_id.is_(None), anchored.exists())


def every_alert_after(session: Session, cursor: int, limit: int) -> list[StoredAlert]:
    """Like :func:`alerts_after`, over every bank's alerts: for the operator and auditors,
    never for a bank."""
    return [_stored(row) for row in session.scalars(_page(cursor, limit))]


def _page(cursor: int, limit: int) -> Select[Alert]:
    if cursor < 0:
        raise InputError("the cursor is a non-negative alert sequence number")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be 1-{MAX_PAGE}")
    return select(Alert).where(Alert.seq > cursor).order_by(Alert.seq).limit(limit)


def get_alert(session: Session, institution: str, alert_id: str) -> StoredAlert:
    """The institution's alert ``alert_id``; :class:`UnknownAlertError` for any other id."""
    row = _own(session, institution, alert_id)
    return _stored(row)


def find_alert(session: Session, alert_id: str) -> StoredAlert:
    """Alert ``alert_id`` whichever bank it is for (the operator's and auditors' look-up);
    :class:`UnknownAlertError` when there is none."""
    well_formed = bool(WEBHOOK_ID(alert_id))
    row = session.scalar(select(Alert).where(Alert.id == alert_id)) if well_formed else None
    if row is None:
        raise UnknownAlertError(alert_id, None, well_formed=well_formed)
    return _stored(row)


def acknowledge(
    session: Session,
    institution: str,
    alert_id: str,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> AckInfo:
    """Record that ``institution`` acknowledged its alert ``alert_id`` (in the caller's
    transaction). Acknowledging again keeps the first acknowledgement and returns it
    with ``first=False``. An id that does not exist or is another bank's raises the
    same :class:`UnknownAlertError`.
    """
    if not 1 <= len(by) <= 64:
        raise InputError("who acknowledges is named in 1-64 characters")
    if note is not None and len(note) > 200:
        raise InputError("an acknowledgement note holds at most 200 characters")
    _own(session, institution, alert_id)
    values = {
        "alert_id": alert_id,
        "institution": institution,
        "acknowledged_at": iso(utc_now(now)),
        "acknowledged_by": by,
        "note": note,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    added = session.scalar(
        dialect.insert(Acknowledgement)
        .values(values)
        .on_conflict_do_nothing()
        .returning(Acknowledgement.alert_id)
    )  # the id when this one was inserted; None when one was there already
    row = session.get(Acknowledgement, alert_id, populate_existing=True)
    assert row is not None  # inserted now or before
    return AckInfo(
        row.alert_id, row.institution, row.acknowledged_at, row.acknowledged_by, row.note,
        first=added is not None,
    )  # fmt: skip


def _own(session: Session, institution: str, alert_id: str) -> Alert:
    """The bank's own released alert (another bank's, or one not released, is unknown)."""
    well_formed = bool(WEBHOOK_ID(alert_id))
    query = select(Alert).where(Alert.id == alert_id, released())
    row = session.scalar(query) if well_formed else None
    if row is None or row.institution != institution:
        raise UnknownAlertError(alert_id, institution, well_formed=well_formed)
    return row


def _stored(row: Alert) -> StoredAlert:
    return StoredAlert(
        row.seq, row.id, row.institution, row.type, row.body, row.created_at, row.batch_id
    )
