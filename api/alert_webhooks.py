"""The OpenAPI ``webhooks`` section: the POST the platform sends a bank for each alert type.

Nothing here serves a request: these are FastAPI's webhook declarations
(``app.webhooks``), one per fixed event type, each with its body model, an
example body and the Standard Webhooks headers a receiver checks
(``ledger.client.WebhookReceiver`` does it in Python).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import FastAPI, Header

from api.alert_models import (
    BODY_MODELS,
    LevelAlert,
    LoanAlert,
    ThresholdAlert,
    envelope_example,
)

HEADERS_TEXT: Final = (
    "Signed by the Standard Webhooks specification: `webhook-signature` holds `v1,` "
    "HMAC-SHA256 and `v1a,` Ed25519 signatures (base64) of "
    "`{webhook-id}.{webhook-timestamp}.{body}` under each key that signs now. "
    "Verify one before trusting the body, refuse a timestamp more than 5 minutes "
    "from now, and treat a repeated `webhook-id` as the same alert (it is the "
    "idempotency key: a retry or a replay carries the same id and body). "
    "Answer 2xx once stored; 410 disables the endpoint; anything else, or no answer "
    "within the timeout, is retried with backoff (honouring `Retry-After`)."
)
WebhookId = Annotated[
    str,
    Header(
        alias="webhook-id",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the alert's id: the same on every attempt (GET /v1/alerts/{id})",
    ),
]
WebhookTimestamp = Annotated[
    int, Header(alias="webhook-timestamp", description="seconds since the epoch, this attempt")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="space-separated `v1,<base64>` and `v1a,<base64>` signatures",
        examples=["v1,<base64 HMAC-SHA256> v1a,<base64 Ed25519>"],
    ),
]


def loan_event(
    body: LoanAlert, id_: WebhookId, timestamp: WebhookTimestamp, signature: WebhookSignature
) -> None:
    """An event of one co-funded loan."""


def threshold_event(
    body: ThresholdAlert, id_: WebhookId, timestamp: WebhookTimestamp, signature: WebhookSignature
) -> None:
    """A figure of the bank's co-funded book crossed the plan's bound."""


def level_event(
    body: LevelAlert, id_: WebhookId, timestamp: WebhookTimestamp, signature: WebhookSignature
) -> None:
    """The risk plan's level for the bank changed."""


_RECEIVERS: Final[dict[type[Any], Callable[..., None]]] = {
    LoanAlert: loan_event,
    ThresholdAlert: threshold_event,
    LevelAlert: level_event,
}
_SUMMARIES: Final = {
    "overdue.entered": "A co-funded loan fell overdue (or was first reported overdue)",
    "overdue.bucket_rolled": "A loan rolled to a later 30-day band or principal bucket",
    "overdue.cured": "An overdue loan is current again",
    "account.status_changed": "A loan moved to bad debt, transfer, forced liquidation, "
    "judicial recovery or closed",
    "account.five_class_downgraded": "A loan's five-category class was downgraded",
    "portfolio.threshold_breached": "A portfolio figure crossed the risk plan's threshold",
    "plan.level_changed": "The risk plan's level for this bank changed",
}


def install(app: FastAPI) -> None:
    """Declare one webhook per fixed event type on ``app`` (OpenAPI only)."""
    for event_type, model in BODY_MODELS.items():
        example = envelope_example(event_type)
        app.webhooks.add_api_route(
            event_type,
            _RECEIVERS[model],
            methods=["POST"],
            status_code=204,
            summary=_SUMMARIES[event_type],
            description=HEADERS_TEXT,
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            responses={
                410: {"description": "the endpoint is gone: the platform disables it"},
                "default": {
                    "description": "anything else, or no answer: retried with backoff, "
                    "no sooner than `Retry-After`"
                },
            },
            openapi_extra={
                "requestBody": {
                    "content": {"application/json": {"examples": {event_type: {"value": example}}}}
                }
            },
        )
