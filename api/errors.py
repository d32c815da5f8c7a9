"""The one mapping from errors to RFC 9457 ``application/problem+json`` responses.

Domain code raises :class:`~ledger.errors.LedgerError` subclasses; this module
picks the status from the error's family, the ``type`` URI from its ``code``,
and uses its message (which by the ledger's rule never holds personal data) as
``detail``. Request validation errors list field paths and reasons only: the
offending values (FastAPI's ``input`` and ``ctx``) are never echoed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.chain.errors import ChainError
from ledger.errors import (
    ConfigurationError,
    ConflictError,
    ErasedError,
    InputError,
    IntegrityError,
    LedgerError,
    NotFoundError,
    UnavailableError,
)
from ledger.store.db import store_unavailable

PROBLEM_TYPE_BASE: Final = "urn:credit-anchor:problem:"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
log = logging.getLogger("api.errors")
_SAFE_SEGMENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


class AuthenticationError(LedgerError):
    """No API key, or one that is unknown, malformed or revoked (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(LedgerError):
    """The key is valid but its role may not do this (HTTP 403)."""

    code = "forbidden"


#: Family -> HTTP status, most specific first (a class may belong to two families).
_STATUS: Final[Sequence[tuple[type[LedgerError], int]]] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (UnavailableError, 503),
    (InputError, 422),
    (ErasedError, 410),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ConfigurationError, 503),
    (IntegrityError, 500),
    (ChainError, 502),
)
_TITLES: Final = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def status_for(exc: LedgerError) -> int:
    for family, status in _STATUS:
        if isinstance(exc, family):
            return status
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; ``type`` is ``urn:credit-anchor:problem:<code>``."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def problem_for(exc: LedgerError, *, retry_after: int) -> JSONResponse:
    status = status_for(exc)
    headers = None
    if status == 503:
        headers = {"Retry-After": str(retry_after)}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="credit-anchor"'}
    extra = {"hint": exc.hint} if exc.hint else {}
    if status == 500:
        log.error("internal error: %s", exc.code)
    return problem(status, exc.code, exc.message, headers=headers, **extra)


def store_problem(exc: OperationalError, *, retry_after: int) -> JSONResponse:
    """The 503 for a store that did not answer (locked, gone or out of space).

    The driver's text can name hosts and files, so callers get the family, the log
    the condition.
    """
    log.warning("%s", store_unavailable(exc).message)  # "the store did not answer: ..."
    unavailable = UnavailableError("the store did not answer; retry later")
    return problem_for(unavailable, retry_after=retry_after)


def _segment(part: object) -> str:
    """A path segment; a member name that is not a plain identifier (it could be a
    value sent as a key, such as an ID number) shows as ``*``."""
    if isinstance(part, int) or (isinstance(part, str) and _SAFE_SEGMENT.fullmatch(part)):
        return str(part)
    return "*"


def _field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Path, reason and type of each error: never ``input`` or ``ctx`` (they echo values)."""
    return [
        {
            "path": ".".join(_segment(part) for part in error.get("loc", ())),
            "reason": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "invalid")),
        }
        for error in errors
    ]


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``; ``app.state.retry_after`` sets Retry-After."""

    async def on_ledger_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LedgerError)
        return problem_for(exc, retry_after=request.app.state.retry_after)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc.errors())
        return problem(422, "validation", "the request does not match its schema", errors=errors)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return problem(exc.status_code, code, detail, headers=exc.headers)

    async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OperationalError)
        return store_problem(exc, retry_after=request.app.state.retry_after)

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s", type(exc).__name__)  # no message: it may hold values
        return problem(500, "internal", "an internal error occurred")

    app.add_exception_handler(LedgerError, on_ledger_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
