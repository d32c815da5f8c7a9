"""Typed errors of :mod:`ledger.client`: one class per HTTP problem family.

Every error the client raises on purpose for an HTTP answer or a transport
failure is a :class:`ClientError` (a :class:`~ledger.errors.LedgerError`), and
also belongs to the ledger family that matches its status, so callers can catch
``ledger.errors.NotFoundError`` or ``UnavailableError`` whether the failure
came from a local call or over HTTP. Messages never carry the API key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final
from urllib.parse import urlsplit

from ledger import errors as ledger_errors


class ClientError(ledger_errors.LedgerError):
    """An HTTP request failed: a problem+json answer or no answer at all.

    ``status`` is the HTTP status (``None`` when no answer came), ``problem_type``
    the RFC 9457 ``type`` URI, ``title`` and ``detail`` the server's words (with
    the API key scrubbed), ``retry_after`` seconds to wait where the server said so.
    """

    code: ClassVar[str] = "client-error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem_type: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.problem_type = problem_type
        self.title = title
        self.detail = detail
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class AuthenticationError(ClientError):
    """401: no API key, or an unknown or revoked one."""

    code = "unauthenticated"


class PermissionDeniedError(ClientError):
    """403: the key is valid but its role may not do this."""

    code = "forbidden"


class NotFoundError(ClientError, ledger_errors.NotFoundError):
    """404: the batch, leaf or path does not exist."""

    code = "not-found"


class ConflictError(ClientError, ledger_errors.ConflictError):
    """409: e.g. a proof asked for a leaf whose batch is not anchored yet."""

    code = "conflict"


class RequestInvalidError(ClientError, ledger_errors.InputError):
    """400, 413 or 422: the request is malformed, too large or does not match the schema."""

    code = "invalid-input"


class ServiceUnavailableError(ClientError, ledger_errors.UnavailableError):
    """503 (or 502, 504, 429), or no answer at all: retrying later may help."""

    code = "unavailable"


class ServerError(ClientError):
    """500 or another unexpected status: the server failed."""

    code = "server-error"


class UnexpectedResponseError(ClientError, ledger_errors.IntegrityError):
    """A success answer that does not have the documented shape."""

    code = "unexpected-response"


_BY_STATUS: Final[dict[int, type[ClientError]]] = {
    400: RequestInvalidError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestInvalidError,
    422: RequestInvalidError,
    429: ServiceUnavailableError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}


def error_class(status: int) -> type[ClientError]:
    """The error class for an HTTP status that is not a success."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return RequestInvalidError if 400 <= status < 500 else ServerError


def redact_url(url: str) -> str:
    """``scheme://host:port`` of ``url``: no credentials, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<invalid url>"
    scheme = parts.scheme or "http"
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = [
    "AuthenticationError",
    "ClientError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestInvalidError",
    "ServerError",
    "ServiceUnavailableError",
    "UnexpectedResponseError",
    "error_class",
    "parse_retry_after",
    "redact_url",
]
