"""Bodies of the alert routes, and of the webhooks the platform sends (each with its example).

The envelope is the Standard Webhooks one, ``{"type", "timestamp", "data"}``: the
exact bytes a webhook POST carries are what ``GET /v1/alerts`` returns as ``body``
and what the stream sends as ``data:``. A test checks every alert a real submission
derives against these models, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ledger.alerts.events import RECORD_EVENTS
from ledger.alerts.portfolio import LEVEL_CHANGED, THRESHOLD_BREACHED

_T = "2026-11-26T08:00:00Z"
ALERT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID = "msg_2f1c9b7e4d3a4c0b8e6f5a1d2c3b4a59"
_PLAN = {"name": "default", "version": 1, "digest": "0x" + "5e" * 32}
_RECORD_DATA: dict[str, Any] = {
    "loan_ref": "lr_9c4e1f0a7b3d5e2c8a6f4b1d3e5c7a9f",
    "period": "2026-10",
    "days_past_due": 40,
    "severity": "warning",
    "bucket": {"from": 1, "to": 2},
    "principal_bucket": {"from": 0, "to": 1},
    "status": {"from": "2", "to": "2"},
    "five_class": {"from": "2", "to": "2"},
    "share_bp": 3000,
    "balance_share": "3600.00",
    "overdue_amount_share": "450.00",
    "leaf_hash": "0x" + "ab" * 32,
    "batch_id": "0x" + "77" * 32,
    "anchor": {"chain_id": 1337, "registry": "0x" + "12" * 20, "kind": 1, "root": "0x" + "cd" * 32},
}
#: One example body per fixed event type (DESIGN.md, "Risk warning").
EXAMPLES: dict[str, dict[str, Any]] = {
    "overdue.entered": {
        **_RECORD_DATA, "days_past_due": 5, "severity": "info", "bucket": {"from": 0, "to": 1},
        "principal_bucket": {"from": 0, "to": 0},
    },
    "overdue.bucket_rolled": _RECORD_DATA,
    "overdue.cured": {
        **_RECORD_DATA, "days_past_due": 0, "severity": None, "bucket": {"from": 2, "to": 0},
        "principal_bucket": {"from": 1, "to": 0}, "overdue_amount_share": "0.00",
    },
    "account.status_changed": {
        **_RECORD_DATA, "days_past_due": 200, "severity": "write_off_candidate",
        "bucket": {"from": 6, "to": 7}, "status": {"from": "2", "to": "4"},
    },
    "account.five_class_downgraded": {
        **_RECORD_DATA, "days_past_due": 95, "severity": "critical",
        "bucket": {"from": 3, "to": 4}, "five_class": {"from": "2", "to": "3"},
    },
    THRESHOLD_BREACHED: {
        "metric": "m1_plus_balance_ratio", "value": "0.072", "above": "0.05", "level": 2,
        "plan": _PLAN,
    },
    LEVEL_CHANGED: {
        "from": 1, "to": 2, "name": "elevated",
        "actions": ["Daily portfolio review with the bank's risk officer."],
        "reason": "thresholds", "plan": _PLAN,
    },
}  # fmt: skip
assert set(EXAMPLES) == {*RECORD_EVENTS, THRESHOLD_BREACHED, LEVEL_CHANGED}


def envelope_example(event_type: str) -> dict[str, Any]:
    return {"type": event_type, "timestamp": _T, "data": EXAMPLES[event_type]}


def _example(example: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class Envelope(BaseModel):
    """A webhook body: the event type, when it was written, and the bank's payload."""

    model_config = _example(envelope_example("overdue.bucket_rolled"))
    type: str = Field(description="the event type, e.g. overdue.bucket_rolled")
    timestamp: str = Field(description="when the alert was written (ISO 8601 UTC)")
    data: dict[str, Any] = Field(description="the bank's payload; its shape per type: webhooks")


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    # Defaults only because OpenAPI examples lose their nulls: payloads carry every key.
    from_: int | str | None = Field(default=None, alias="from")
    to: int | str | None = None


class BatchAnchor(BaseModel):
    """Where the record's batch is anchored: the proof bundle's root, on this registry."""

    model_config = ConfigDict(extra="forbid")
    chain_id: int
    registry: str = Field(description="the AnchorRegistry address")
    kind: int = Field(description="1: credit-data submission")
    root: str = Field(description="the batch's RFC 6962 Merkle root, as anchored")


class LoanData(BaseModel):
    """What one funder learns of one loan's event: never a name, ID, pseudonym or region."""

    model_config = ConfigDict(extra="forbid")
    loan_ref: str = Field(description="the loan, by a reference of this bank's own (keyed HMAC)")
    period: str
    days_past_due: int
    severity: str | None = Field(
        default=None, description="the plan's severity for these days past due"
    )
    bucket: Move = Field(description="30-day band of the repayment codes (0 current ... 7)")
    principal_bucket: Move = Field(description="highest overdue_principal_* bucket holding money")
    status: Move
    five_class: Move
    share_bp: int = Field(description="the bank's share of the loan, in basis points")
    balance_share: str | None = None
    overdue_amount_share: str | None = None
    leaf_hash: str = Field(description="the record that caused it: fetch its proof bundle")
    batch_id: str
    anchor: BatchAnchor


class PlanRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: int
    digest: str


class ThresholdData(BaseModel):
    """A figure of the bank's co-funded book above the plan's bound."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    value: str
    above: str
    level: int
    plan: PlanRef


class LevelData(BaseModel):
    """The plan's level for this bank moved (thresholds, or a new plan in force)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: int = Field(alias="from")
    to: int
    name: str
    actions: list[str]
    reason: Literal["thresholds", "plan_changed"]
    plan: PlanRef


LoanEvent = Literal[
    "overdue.entered",
    "overdue.bucket_rolled",
    "overdue.cured",
    "account.status_changed",
    "account.five_class_downgraded",
]
assert get_args(LoanEvent) == RECORD_EVENTS


class LoanAlert(BaseModel):
    model_config = _example(envelope_example("overdue.bucket_rolled"))
    type: LoanEvent
    timestamp: str
    data: LoanData


class ThresholdAlert(BaseModel):
    model_config = _example(envelope_example(THRESHOLD_BREACHED))
    type: Literal["portfolio.threshold_breached"]
    timestamp: str
    data: ThresholdData


class LevelAlert(BaseModel):
    model_config = _example(envelope_example(LEVEL_CHANGED))
    type: Literal["plan.level_changed"]
    timestamp: str
    data: LevelData


#: The body model of each event type's webhook.
BODY_MODELS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(RECORD_EVENTS, LoanAlert),
    THRESHOLD_BREACHED: ThresholdAlert,
    LEVEL_CHANGED: LevelAlert,
}


class DeliveryOut(BaseModel):
    """The webhook push; null when the bank has no webhook (it pulls)."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["pending", "delivered", "failed", "disabled"]
    attempts: int
    delivered_at: str | None
    last_error: str | None


class AckOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    acknowledged_at: str
    acknowledged_by: str
    note: str | None


_ALERT_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "seq": 42,
    "institution": "91350211MA2XYZ1234",
    "type": "overdue.bucket_rolled",
    "created_at": _T,
    "batch_id": "0x" + "77" * 32,
    "body": envelope_example("overdue.bucket_rolled"),
    "delivery": {"state": "delivered", "attempts": 1, "delivered_at": _T, "last_error": None},
    "ack": None,
}


class AlertOut(BaseModel):
    """An alert: ``id`` is its ``webhook-id``, ``seq`` its cursor, ``body`` the webhook body."""

    model_config = _example(_ALERT_EXAMPLE)
    id: str
    seq: int
    institution: str
    type: str
    created_at: str
    batch_id: str | None = Field(description="the submission batch that caused it (or null)")
    body: Envelope
    delivery: DeliveryOut | None
    ack: AckOut | None


class AlertPage(BaseModel):
    """Alerts oldest first; pass ``next`` as ``after`` for the following page."""

    model_config = _example({"alerts": [_ALERT_EXAMPLE], "next": 42, "more": False})
    alerts: list[AlertOut]
    next: int = Field(description="the cursor after this page (the ``after`` given if empty)")
    more: bool = Field(description="true when more alerts wait already")


class AttemptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempt: int
    started_at: str
    duration_ms: int
    target: str = Field(description="scheme://host:port of the endpoint (never its path)")
    status_code: int | None
    error: str | None
    outcome: Literal["delivered", "retry", "failed", "disabled"]


_ATTEMPT = {"attempt": 1, "started_at": _T, "duration_ms": 35, "status_code": 204, "error": None,
            "target": "https://risk.bank.example:443", "outcome": "delivered"}  # fmt: skip


class AlertDetail(AlertOut):
    """An alert with every webhook delivery attempt, oldest first."""

    model_config = _example({**_ALERT_EXAMPLE, "attempts": [_ATTEMPT]})
    attempts: list[AttemptOut]


class AckBody(BaseModel):
    """Optional: who at the bank acknowledges (default: the API key's name), and a note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"by": "risk-desk", "note": "collection call booked"}]},
    )
    by: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=200)


class AckResult(BaseModel):
    """The acknowledgement on record: the first one; ``first`` is false on a repeat."""

    model_config = _example(
        {
            "alert_id": _ID,
            "acknowledged_at": _T,
            "first": True,
            "acknowledged_by": "risk-desk",
            "note": "collection call booked",
        }
    )
    alert_id: str
    acknowledged_at: str
    acknowledged_by: str
    note: str | None
    first: bool
