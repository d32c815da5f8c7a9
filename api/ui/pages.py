"""The console's pages: sign in and out, and a page per role (:mod:`api.ui`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from api.auth import key_of
from api.ui import session
from api.ui.labels import LANGS, VERIFY_SCRIPT_LABELS, lang_of, translator
from ledger.store.apikeys import MAX_KEY_CHARS, KeyInfo, Role

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix=session.PATH, include_in_schema=False)

#: Each role's own page, where signing in leads.
HOME: Final = {Role.PARTNER: "bank", Role.AUDITOR: "auditor", Role.OPERATOR: "operator"}


def render(
    request: Request,
    template: str,
    key: KeyInfo | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page: labels in the request's language, never cached (pages show a bank's data)."""
    lang = lang_of(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"t": translator(lang), "lang": lang, "langs": LANGS, "key": key, **context},
        status_code=status_code,
    )
    response.headers["cache-control"] = "no-store"
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            session.LANG_COOKIE, lang, path=session.PATH, samesite="strict", httponly=True
        )
    return response


def to(path: str) -> RedirectResponse:
    return RedirectResponse(f"{session.PATH}/{path}", status_code=303)


async def signed_in(request: Request, *roles: Role) -> KeyInfo | Response:
    """The console key, or the answer instead of the page: to sign in when there is no
    live key, 403 for a key of another role."""
    key = await session.console_key(request)
    if key is None:
        return to("login")
    if roles and key.role not in roles:
        return render(request, "denied.html", key, status_code=403)
    return key


@router.get("")
@router.get("/")
async def index(request: Request) -> Response:
    key = await session.console_key(request)
    return to("login") if key is None else to(HOME[key.role])


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html", await session.console_key(request))


@router.post("/login")
async def login(request: Request) -> Response:
    if not session.same_origin(request):
        return render(request, "login.html", None, status_code=403, error="cross_site")
    form = parse_qs((await request.body()).decode(), max_num_fields=4)
    presented = (form.get("key") or [""])[0].strip()
    key = await key_of(request, presented) if 0 < len(presented) <= MAX_KEY_CHARS else None
    if key is None:
        return render(request, "login.html", None, status_code=401, error="bad_key")
    response = to(HOME[key.role])
    session.start(response, request, presented)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = to("login")
    session.end(response, request)
    return response


@router.get("/verify")
async def verify_page(request: Request) -> Response:
    key = await signed_in(request)
    if isinstance(key, Response):
        return key
    return render(request, "verify.html", key, js_labels=VERIFY_SCRIPT_LABELS)


@router.get("/bank")
async def bank_page(request: Request) -> Response:
    key = await signed_in(request, Role.PARTNER)
    if isinstance(key, Response):
        return key
    return render(request, "bank.html", key)


@router.get("/auditor")
async def auditor_page(request: Request) -> Response:
    key = await signed_in(request, Role.AUDITOR)
    if isinstance(key, Response):
        return key
    return render(request, "auditor.html", key)


@router.get("/operator")
async def operator_page(request: Request) -> Response:
    key = await signed_in(request, Role.OPERATOR)
    if isinstance(key, Response):
        return key
    return render(request, "operator.html", key)
