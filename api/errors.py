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
from typing import Any, Final, NamedTuple

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.chain.errors import ChainError, ContractRevert
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


class ProblemType(NamedTuple):
    """A documented problem ``type``: its HTTP status (``None``: the one the answer
    carries) and what it means."""

    status: int | None
    meaning: str


#: Every problem ``type`` (``urn:credit-anchor:problem:<code>``) this API answers with.
#: These URIs are stable: a published one is never removed nor given another meaning
#: (the compatibility gate holds them, api/openapi/compat.py). README's "Error types"
#: table lists the same; a test holds both to each other and to every LedgerError code.
#: Contract reverts add one code per Solidity custom error (:func:`problem_types`).
PROBLEM_TYPES: Final[Mapping[str, ProblemType]] = {
    # The API's own answers (protocol, body limits, validation).
    "validation": ProblemType(422, "the request does not match its schema; `errors` lists paths"),
    "not-utf8": ProblemType(400, "the body is not UTF-8 text"),
    "too-deep": ProblemType(400, "the JSON body nests too deeply"),
    "too-large": ProblemType(413, "the body is larger than the server accepts"),
    "unsupported-media-type": ProblemType(415, "the body is not `application/json`"),
    "method-not-allowed": ProblemType(405, "the path does not take this method"),
    "http-error": ProblemType(None, "another HTTP-level refusal"),
    "internal": ProblemType(500, "an unexpected error; the server logged its kind"),
    "unauthenticated": ProblemType(401, "no API key, or an unknown, malformed or revoked one"),
    "forbidden": ProblemType(403, "the key's role may not do this"),
    # The ledger's error families.
    "ledger-error": ProblemType(500, "an error of the ledger without a more specific type"),
    "invalid-input": ProblemType(422, "the input is malformed or breaks a rule"),
    "not-found": ProblemType(404, "the path, batch, leaf or consent does not exist"),
    "erased": ProblemType(410, "erased at the borrower's request (PIPL Art. 47)"),
    "conflict": ProblemType(409, "contradicts the current state (e.g. not anchored yet)"),
    "configuration": ProblemType(503, "the data dir, settings or deployment are inconsistent"),
    "unavailable": ProblemType(503, "the chain node or the store does not answer; retry"),
    "integrity": ProblemType(500, "stored data disagrees with what was committed"),
    # Records, ingest and privacy.
    "record-rejected": ProblemType(422, "a record failed validation; each problem is listed"),
    "unreadable-records": ProblemType(422, "the records cannot be read as a whole"),
    "pboc-210-item": ProblemType(422, "a pboc-210 row has an unknown or malformed item"),
    "leak-detected": ProblemType(422, "a desensitised record still carries personal data"),
    "canonical-form": ProblemType(422, "a value has no RFC 8785 (JCS) form"),
    "policy-invalid": ProblemType(503, "the desensitisation policy is malformed or unsafe"),
    "keyring-invalid": ProblemType(503, "pseudonym keys are missing, malformed or unsafe"),
    "internal-error": ProblemType(500, "two checks of one rule disagreed: a bug, never data"),
    # Proofs.
    "bundle-malformed": ProblemType(422, "a proof bundle is not in the fixed v1 format"),
    "leaf-hash-malformed": ProblemType(422, "a value is not a 32-byte leaf hash"),
    "proof-invalid": ProblemType(500, "a Merkle proof does not prove what it claims"),
    "inclusion-proof-malformed": ProblemType(500, "an audit path is malformed for its tree"),
    "consistency-proof-malformed": ProblemType(500, "a consistency proof is malformed"),
    "root-mismatch": ProblemType(500, "a proof leads to another root than the expected one"),
    "record-mismatch": ProblemType(500, "a bundle's record does not hash to its leaf hash"),
    # Chain.
    "chain-error": ProblemType(502, "the chain layer failed"),
    "chain-unavailable": ProblemType(503, "the chain node cannot be reached or timed out"),
    "chain-locked": ProblemType(503, "another process holds the embedded chain"),
    "deployment": ProblemType(503, "no usable deployment of the registries"),
    "insufficient-funds": ProblemType(503, "the signing account cannot pay for gas"),
    "not-a-dev-node": ProblemType(503, "funding was asked of a node that is not a dev node"),
    "transaction-timeout": ProblemType(503, "a sent transaction was not mined in time"),
    "contract-revert": ProblemType(502, "a contract call reverted with a custom error"),
    "contract-revert-unknown": ProblemType(502, "a revert that matches no known error"),
    "anchor-mismatch": ProblemType(500, "the registry does not hold the claimed anchor"),
    "anchor-transaction-mismatch": ProblemType(500, "the anchor's transaction is another"),
    # Risk alerts and webhooks.
    "unknown-alert": ProblemType(404, "no alert with this id for this institution"),
    "no-webhook-endpoint": ProblemType(404, "the institution has no webhook endpoint"),
    "endpoint-refused": ProblemType(422, "a webhook URL the allowlist does not permit"),
    "plan-invalid": ProblemType(422, "a risk plan cannot be applied"),
    "delivery-failed": ProblemType(503, "a webhook POST got no 2xx answer"),
    "sealing-key": ProblemType(503, "a stored signing key cannot be opened"),
    "webhook-signature-format": ProblemType(422, "a webhook key or signature is malformed"),
}


def problem_types() -> list[dict[str, Any]]:
    """The published list (OpenAPI ``info.x-problem-types``): :data:`PROBLEM_TYPES` and
    one ``contract-revert`` type per Solidity custom error (its name in kebab case)."""
    listed = [(code, entry.status, entry.meaning) for code, entry in PROBLEM_TYPES.items()]
    for revert in ContractRevert.by_name.values():
        listed.append((revert.code, 502, f"the contract reverted with {revert.solidity_name}"))
    return [
        {"type": PROBLEM_TYPE_BASE + code, "status": status, "title": meaning}
        for code, status, meaning in sorted(listed)
    ]


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
