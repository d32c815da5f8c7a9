"""Bearer API keys and roles as FastAPI dependencies.

``CurrentKey`` is any live key; ``Operator``, ``Reader`` (partner or auditor) and
``AnyRole`` check the role too. 401 (with ``WWW-Authenticate``) for a missing,
unknown or revoked key, 403 for a live key of the wrong role.

They are ``async`` and flat (one dependency on top of the bearer scheme), and a
key seen in the last second (:mod:`api.keycache`) costs neither a store read nor
a threadpool hop: reuse them as they are in any router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import AuthenticationError, PermissionDeniedError
from api.state import AppState
from ledger.store.apikeys import KeyInfo, Role, authenticate_hash, presented_hash

_bearer = HTTPBearer(auto_error=False, description="An API key from `ledger partner add`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.ledger
    return state


async def get_state(request: Request) -> AppState:
    return state_of(request)


StateDep = Annotated[AppState, Depends(get_state)]


async def authenticated(request: Request, credentials: Credentials) -> KeyInfo:
    """The live key the request presents; :class:`AuthenticationError` otherwise."""
    if credentials is None:
        raise AuthenticationError("an API key is required: Authorization: Bearer <key>")
    presented = presented_hash(credentials.credentials)
    key = None
    if presented is not None:
        state = state_of(request)
        key = await state.keys.key(presented, partial(authenticate_hash, state.store))
    if key is None:
        raise AuthenticationError("the API key is unknown or revoked")
    request.state.key_name, request.state.key_role = key.name, str(key.role)  # access log
    return key


CurrentKey = Annotated[KeyInfo, Depends(authenticated)]


def require(
    *roles: Role,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[KeyInfo]]:
    """A dependency: the current key, which must have one of ``roles``."""
    allowed = ", ".join(str(r) for r in roles)

    async def check(request: Request, credentials: Credentials) -> KeyInfo:
        key = await authenticated(request, credentials)
        if key.role not in roles:
            raise PermissionDeniedError(f"this needs the role {allowed}, not {key.role}")
        return key

    return check


AnyRole = CurrentKey
Operator = Annotated[KeyInfo, Depends(require(Role.OPERATOR))]
Reader = Annotated[KeyInfo, Depends(require(Role.PARTNER, Role.AUDITOR))]
