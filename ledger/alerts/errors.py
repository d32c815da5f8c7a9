"""Typed errors of risk-alert delivery; each belongs to the ledger family that says what failed."""

from __future__ import annotations

from ledger.errors import ConfigurationError, InputError, NotFoundError, UnavailableError


class UnknownAlertError(NotFoundError):
    """No alert with this id for this institution.

    The same message answers an id that does not exist and one that belongs to
    another bank: a bank must not learn which alerts other banks receive.
    """

    code = "unknown-alert"

    def __init__(self, alert_id: str, institution: str | None, *, well_formed: bool) -> None:
        # An id that cannot be one of ours is not echoed: it is whatever the caller sent.
        shown = repr(alert_id) if well_formed else "with that id"
        whose = "" if institution is None else f" for institution {institution[:32]!r}"
        super().__init__(f"no alert {shown}{whose}")
        self.alert_id = alert_id
        self.institution = institution


class EndpointRefusedError(InputError):
    """A webhook URL the allowlist does not permit (scheme, host or resolved address).

    Refusing is how the platform keeps webhooks from reaching its own network
    (server-side request forgery); the message names the rule, not the secret
    parts of the URL.
    """

    code = "endpoint-refused"


class NoEndpointError(NotFoundError):
    """The institution has no webhook endpoint (banks without one pull their alerts)."""

    code = "no-webhook-endpoint"


class SealingKeyError(ConfigurationError):
    """A stored signing key cannot be opened with the data dir's sealing key."""

    code = "sealing-key"


class DeliveryFailedError(UnavailableError):
    """A webhook POST (``ledger partner webhook test``) got no 2xx answer."""

    code = "delivery-failed"
