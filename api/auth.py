"""Bearer API keys and roles as FastAPI dependencies.

``CurrentKey`` is any live key; ``Operator``, ``Reader`` (partner or auditor) and
``AnyRole`` check the role too. 401 (with ``WWW-Authenticate``) for a missing,
unknown or revoked key, 403 for a live key of the wrong role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import AuthenticationError, PermissionDeniedError
from api.state import AppState
from ledger.store.apikeys import KeyInfo, Role, authenticate

_bearer = HTTPBearer(auto_error=False, description="An API key from `ledger partner add`.")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ledger
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def current_key(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> KeyInfo:
    if credentials is None:
        raise AuthenticationError("an API key is required: Authorization: Bearer <key>")
    key = authenticate(state.store, credentials.credentials)
    if key is None:
        raise AuthenticationError("the API key is unknown or revoked")
    request.state.key_name, request.state.key_role = key.name, str(key.role)  # access log
    return key


CurrentKey = Annotated[KeyInfo, Depends(current_key)]


def require(*roles: Role) -> Callable[[KeyInfo], KeyInfo]:
    """A dependency: the current key, which must have one of ``roles``."""
    allowed = ", ".join(str(r) for r in roles)

    def check(key: CurrentKey) -> KeyInfo:
        if key.role not in roles:
            raise PermissionDeniedError(f"this needs the role {allowed}, not {key.role}")
        return key

    return check


AnyRole = CurrentKey
Operator = Annotated[KeyInfo, Depends(require(Role.OPERATOR))]
Reader = Annotated[KeyInfo, Depends(require(Role.PARTNER, Role.AUDITOR))]
