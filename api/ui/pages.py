"""The console's pages: sign in and out, and a page per role (:mod:`api.ui`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from api.auth import key_of, state_of
from api.errors import status_for
from api.routers.proofs import proof_for
from api.ui import session, views
from api.ui.labels import LANGS, VERIFY_SCRIPT_LABELS, lang_of, translator
from ledger.audit.findings import WHERE
from ledger.errors import LedgerError
from ledger.store.apikeys import MAX_KEY_CHARS, KeyInfo, Role

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix=session.PATH, include_in_schema=False)

LEAF_HASH: Final = re.compile(r"0x[0-9a-f]{64}").fullmatch
#: A cursor is a 64-bit sequence number: at most 19 digits.
MAX_CURSOR_DIGITS: Final = 19
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
    assert key.institution is not None  # a partner key is always bound to one
    state = state_of(request)
    after, inquiries_after = _cursor(request, "after"), _cursor(request, "inquiries_after")
    view = await run_in_threadpool(
        views.bank_view, state.store, state.inquiry_log(), key.institution, after, inquiries_after
    )
    return render(request, "bank.html", key, view=view)


@router.get("/auditor")
async def auditor_page(request: Request) -> Response:
    key = await signed_in(request, Role.AUDITOR)
    if isinstance(key, Response):
        return key
    state = state_of(request)
    view = await run_in_threadpool(views.auditor_view, state.store, state.settings.data_dir)
    check = await run_in_threadpool(views.log_check, state)
    return render(request, "auditor.html", key, view=view, check=check, where=WHERE)


@router.post("/auditor/replay")
async def replay(request: Request) -> Response:
    """The quick completeness check, run in a worker thread; its result is the page."""
    key = await signed_in(request, Role.AUDITOR)
    if isinstance(key, Response):
        return key
    if not session.same_origin(request):
        return render(request, "denied.html", key, status_code=403, error="cross_site")
    try:
        report = await run_in_threadpool(views.completeness, state_of(request))
    except LedgerError as exc:
        return render(request, "replay.html", key, status_code=status_for(exc), failed=exc.code)
    return render(request, "replay.html", key, report=report.to_json(), where=WHERE)


@router.get("/operator")
async def operator_page(request: Request) -> Response:
    key = await signed_in(request, Role.OPERATOR)
    if isinstance(key, Response):
        return key
    state = state_of(request)
    view = await run_in_threadpool(views.operator_view, state.store)
    health = await run_in_threadpool(views.health, state, request.app.state.metrics.registry)
    return render(request, "operator.html", key, view=view, health=health)


@router.get("/proof/{leaf_hash}")
async def proof_page(request: Request, leaf_hash: str) -> Response:
    """A leaf's proof bundle under the API's own rule (:func:`api.routers.proofs.proof_for`)."""
    key = await signed_in(request, Role.PARTNER, Role.AUDITOR)
    if isinstance(key, Response):
        return key
    if not LEAF_HASH(leaf_hash):
        return render(request, "proof.html", key, status_code=404, failed="not-found")
    try:
        bundle = await run_in_threadpool(proof_for, state_of(request).store, leaf_hash, key)
    except LedgerError as exc:
        return render(request, "proof.html", key, status_code=status_for(exc), failed=exc.code)
    text = json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False)
    return render(request, "proof.html", key, bundle=bundle, text=text, leaf_hash=leaf_hash)


def _cursor(request: Request, name: str) -> int:
    """Cursor ``name`` of a paged table (0, the start, when absent or not a number)."""
    given = request.query_params.get(name, "")
    cursor = int(given) if given.isdigit() and len(given) <= MAX_CURSOR_DIGITS else 0
    return cursor if cursor < 2**63 else 0
