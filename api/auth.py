"""Bearer API keys and roles as FastAPI dependencies.

``CurrentKey`` is any live key; ``Operator``, ``Reader`` (partner or auditor) and
``AnyRole`` check the role too. 401 (with ``WWW-Authenticate``) for a missing,
unknown or revoked key, 403 for a live key of the wrong role.

Each is one ``async`` dependency, itself the ``HTTPBearer`` security scheme (so
OpenAPI shows it), and a key seen in the last second (:mod:`api.keycache`) costs
neither a store read nor a threadpool hop: reuse them as they are in any router.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.errors import AuthenticationError, PermissionDeniedError
from api.state import AppState
from ledger.store.apikeys import KeyInfo, Role, authenticate_hash, presented_hash

SCHEME = "HTTPBearer"


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.ledger
    return state


async def get_state(request: Request) -> AppState:
    return state_of(request)


StateDep = Annotated[AppState, Depends(get_state)]


#: Where the request's verified key is kept (in the ASGI scope), once looked up.
_SCOPE_KEY = "ledger.api_key"


async def live_key(request: Request) -> KeyInfo:
    """The live key the request presents; 401 (:class:`AuthenticationError`) otherwise.

    :class:`api.limits.BodyLimits` calls it before reading a request body and the
    route's dependency again: the answer is kept in the request's scope, so the key
    is looked up once per request.
    """
    known: KeyInfo | None = request.scope.get(_SCOPE_KEY)
    if known is not None:
        return known
    # As HTTPBearer reads the header, without building its credentials model.
    scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
    if not credentials or scheme.lower() != "bearer":
        raise AuthenticationError("an API key is required: Authorization: Bearer <key>")
    key = await key_of(request, credentials)
    if key is None:
        raise AuthenticationError("the API key is unknown or revoked")
    return key


async def key_of(request: Request, presented_key: str) -> KeyInfo | None:
    """The live key ``presented_key`` is (through the key cache), or None; once found it
    is the request's key (kept in its scope, named in the access log)."""
    presented = presented_hash(presented_key)
    key = None
    if presented is not None:
        state = state_of(request)
        key = await state.keys.key(presented, partial(authenticate_hash, state.store))
    if key is not None:
        request.scope[_SCOPE_KEY] = key
        request.state.key_name, request.state.key_role = key.name, str(key.role)  # access log
    return key


class KeyBearer(HTTPBearer):
    """The bearer scheme, resolving to the live key presented, which must have one of ``roles``.

    One dependency rather than a chain of them: FastAPI solves dependencies on
    every request, and each level costs more than the cached key lookup.
    """

    def __init__(self, *roles: Role) -> None:
        description = "An API key from `ledger partner add`."
        super().__init__(auto_error=False, scheme_name=SCHEME, description=description)
        self.roles = roles
        self.allowed = ", ".join(str(r) for r in roles)

    async def __call__(self, request: Request) -> KeyInfo:  # type: ignore[override]
        key = await live_key(request)
        if key.role not in self.roles:
            raise PermissionDeniedError(f"this needs the role {self.allowed}, not {key.role}")
        return key


def require(*roles: Role) -> KeyBearer:
    """A dependency: the current key, which must have one of ``roles``."""
    return KeyBearer(*roles)


CurrentKey = Annotated[KeyInfo, Depends(require(*Role))]
AnyRole = CurrentKey
Operator = Annotated[KeyInfo, Depends(require(Role.OPERATOR))]
Reader = Annotated[KeyInfo, Depends(require(Role.PARTNER, Role.AUDITOR))]
