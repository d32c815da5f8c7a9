"""``ledger.client``: a typed Python client of the CreditAnchor HTTP API, for banks.

    with CreditAnchorClient("https://anchor.example", api_key) as client:
        for result in client.verify_records(records):
            if result.status == "anchored":
                keep(result.bundle)  # already checked offline

Every proof bundle is verified offline before it is returned; HTTP problems become
:class:`ClientError` subclasses. Risk alerts pushed to a bank's webhook are checked
with :class:`WebhookReceiver` (signature, freshness, replay) before they are trusted.
An operation the server has deprecated (its ``Deprecation`` and ``Sunset`` headers,
RFC 9745 and RFC 8594) is logged once per client as a warning on ``ledger.client``.
Imports only httpx, cryptography, the standard library and ``ledger`` (``ledger.chain``
only inside :func:`check_on_chain`).
"""

from ledger.client.client import MAX_BODY_BYTES, MAX_ITEMS, CreditAnchorClient, check_on_chain
from ledger.client.errors import (
    AuthenticationError,
    ClientError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestInvalidError,
    ServerError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from ledger.client.models import (
    BatchAnchor,
    BatchInfo,
    Rejection,
    Status,
    SubmissionReport,
    SubmittedBatch,
    VerifyResult,
)
from ledger.client.webhooks import (
    MalformedWebhookError,
    ReceiverBusyError,
    ReplayedWebhookError,
    SignatureMismatchError,
    StaleWebhookError,
    WebhookError,
    WebhookReceiver,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ITEMS",
    "AuthenticationError",
    "BatchAnchor",
    "BatchInfo",
    "ClientError",
    "ConflictError",
    "CreditAnchorClient",
    "MalformedWebhookError",
    "NotFoundError",
    "PermissionDeniedError",
    "ReceiverBusyError",
    "Rejection",
    "ReplayedWebhookError",
    "RequestInvalidError",
    "ServerError",
    "ServiceUnavailableError",
    "SignatureMismatchError",
    "StaleWebhookError",
    "Status",
    "SubmissionReport",
    "SubmittedBatch",
    "UnexpectedResponseError",
    "VerifyResult",
    "WebhookError",
    "WebhookReceiver",
    "check_on_chain",
]
