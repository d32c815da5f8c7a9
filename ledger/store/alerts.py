"""Tables of risk-alert delivery (:mod:`ledger.alerts`): the alert outbox, delivery state
and attempts, acknowledgements, and each bank's webhook endpoint with its sealed keys.

Plain column types only (strings, integers, bytes), so the same models serve
SQLite and PostgreSQL. Times shown to people are ISO 8601 UTC strings; times the
dispatcher compares are integer milliseconds since the epoch (``*_ms``).

An :class:`Alert` row never changes once written: its ``body`` is the exact byte
string every delivery sends and signs. What changes (state, attempts, leases)
lives in :class:`AlertDelivery`, one row per alert pushed to a webhook.

Alerts, delivery attempts and acknowledgements are the alert log
(:mod:`ledger.alerts.alertlog`): each row says where it was sealed
(``log_batch_id``, ``log_index``: a kind-4 batch and leaf), None until then;
that is the only thing written to such a row after it is added.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.store.models import Base

#: A 64-bit sequence on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is the
#: rowid that autoincrements.
SEQUENCE = BigInteger().with_variant(Integer, "sqlite")


class Alert(Base):
    """One alert for one bank, in the order it was written (``seq``, the pull cursor)."""

    __tablename__ = "alerts"
    # AUTOINCREMENT on SQLite: a deleted last row's seq is never handed out again,
    # so a bank reading ``after=seq`` can never miss a later alert.
    __table_args__ = (
        Index("ix_alerts_institution_seq", "institution", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    #: The Standard Webhooks ``webhook-id``: the same on every delivery of this alert.
    id: Mapped[str] = mapped_column(String(64), unique=True)
    #: The receiving bank's institution code (the funder's USCC).
    institution: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    #: ``{"data": ..., "timestamp": ..., "type": ...}`` in RFC 8785 form: the body sent.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(32))
    #: The submission batch that caused it (None for plan events).
    batch_id: Mapped[str | None] = mapped_column(String(66), index=True)
    #: Where the alert log sealed this row: kind-4 batch and leaf index (None until sealed).
    log_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    log_index: Mapped[int | None] = mapped_column(Integer)


class AlertDelivery(Base):
    """Where pushing one alert to its bank's webhook stands.

    ``state``: ``pending`` (``due_ms`` says when to try), ``delivered`` (a 2xx came),
    ``failed`` (the retry schedule ran out) or ``disabled`` (the endpoint answered
    410 or is disabled). A sender claims a pending row by writing its ``lease_owner``
    and moving ``due_ms`` to the end of its lease: a crashed sender's claim simply
    runs out, and the delivery is due again.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_state_due", "state", "due_ms"),
        Index("ix_alert_deliveries_institution_state_due", "institution", "state", "due_ms"),
    )

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    institution: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When it may next be sent: the next attempt, or the end of a sender's lease.
    due_ms: Mapped[int | None] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(200))


class DeliveryAttempt(Base):
    """One POST of an alert, recorded when its answer (or failure) is known."""

    __tablename__ = "alert_delivery_attempts"

    id: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[str] = mapped_column(String(32))
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: ``scheme://host:port`` of the endpoint: never its path or query.
    target: Mapped[str] = mapped_column(String(300))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    #: delivered | retry | failed | disabled
    outcome: Mapped[str] = mapped_column(String(16))
    #: Where the alert log sealed this row: kind-4 batch and leaf index (None until sealed).
    log_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    log_index: Mapped[int | None] = mapped_column(Integer)


class Acknowledgement(Base):
    """A bank's acknowledgement of one of its alerts (the first one counts)."""

    __tablename__ = "alert_acks"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    acknowledged_at: Mapped[str] = mapped_column(String(32))
    acknowledged_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(200))
    #: Where the alert log sealed this row: kind-4 batch and leaf index (None until sealed).
    log_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    log_index: Mapped[int | None] = mapped_column(Integer)


class WebhookEndpoint(Base):
    """A bank's webhook URL and whether the dispatcher may send to it."""

    __tablename__ = "webhook_endpoints"

    institution: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))  # active | disabled
    disabled_at: Mapped[str | None] = mapped_column(String(32))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class WebhookKey(Base):
    """One generation of a bank's signing keys: an HMAC secret and an Ed25519 key pair.

    Both private parts are sealed (AES-256-GCM, :mod:`ledger.alerts.sealing`); the
    public key is stored as shown, ``whpk_`` + base64. The newest generation signs
    until rotated; an older one keeps signing until ``retires_at_ms``.
    """

    __tablename__ = "webhook_keys"
    __table_args__ = (UniqueConstraint("institution", "generation"),)

    id: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    institution: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.institution"), index=True
    )
    generation: Mapped[int] = mapped_column(Integer)
    seal_key_id: Mapped[str] = mapped_column(String(64))
    hmac_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    ed25519_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    retires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
