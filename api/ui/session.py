"""Console sessions: the API key, entered once, kept in a cookie.

The cookie holds the key itself and is ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it), limited to ``/ui`` (the API
never reads it: API calls carry a bearer key) and ``Secure`` behind HTTPS. Each
request checks it like a bearer key, through the key cache: a revoked key's
cookie stops working within the key-cache time. A form post must also come from
a console page of this origin (``Origin``), so no other site can post with it.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request
from starlette.responses import Response

from api.auth import key_of
from ledger.store.apikeys import MAX_KEY_CHARS, KeyInfo

COOKIE: Final = "ledger_console_key"
LANG_COOKIE: Final = "ledger_console_lang"
PATH: Final = "/ui"
#: A console session lasts a working day at most; the key itself may live longer.
MAX_AGE_SECONDS: Final = 8 * 3600
#: The login form's body at most: the key and the language.
LOGIN_MAX_BYTES: Final = 1024
LOGIN_PATH: Final = PATH + "/login"
#: Posts read without a live console key: signing in brings the key, and signing out
#: must work for a key revoked meanwhile. Their bodies are small (LOGIN_MAX_BYTES).
UNKEYED_POSTS: Final = frozenset({LOGIN_PATH, PATH + "/logout"})


async def console_key(request: Request) -> KeyInfo | None:
    """The live key of the request's console cookie, or None."""
    presented = request.cookies.get(COOKIE)
    if not presented or len(presented) > MAX_KEY_CHARS:
        return None
    return await key_of(request, presented)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start(response: Response, request: Request, key: str) -> None:
    """Keep ``key`` (already checked) in the console cookie."""
    response.set_cookie(
        COOKIE,
        key,
        max_age=MAX_AGE_SECONDS,
        path=PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def end(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=secure(request), httponly=True, samesite="strict"
    )


def same_origin(request: Request) -> bool:
    """Whether a post comes from a page of this origin (``Origin``, as browsers send it
    on every post; ``Sec-Fetch-Site`` when there is none)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("sec-fetch-site") in ("same-origin", None)
