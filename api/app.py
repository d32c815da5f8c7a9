"""The app factory: ``create_app(settings)`` -> a FastAPI app serving DESIGN.md's paths."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api import alert_webhooks, deprecation, errors, openapi
from api.accesslog import AccessLog
from api.config import ApiSettings
from api.limits import BodyLimits
from api.metrics import Metrics
from api.routers import (
    alerts,
    batches,
    consents,
    erasures,
    health,
    inquiries,
    proofs,
    submissions,
    verify,
)
from api.state import AppState
from api.ui import pages, session, verify_api
from api.ui.headers import ConsoleHeaders
from ledger import __version__
from ledger.config import Settings
from ledger.store import Store

DESCRIPTION = (
    "Verify credit records anchored by CreditAnchor and fetch their proof bundles. "
    "Authenticate with `Authorization: Bearer <api key>`. "
    "Errors are RFC 9457 `application/problem+json`. "
    "Partner banks receive risk alerts as signed webhooks (see `webhooks`) or pull them "
    "from `/v1/alerts`."
)


def create_app(settings: Settings | None = None, *, limits: ApiSettings | None = None) -> FastAPI:
    """A new app over the data dir of ``settings`` (default: from ``LEDGER_*``)."""
    settings = settings or Settings()
    limits = limits or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(submissions.sweep_spool, settings.data_dir)
        store = await run_in_threadpool(Store.for_settings, settings)
        state = AppState(settings, limits, store)
        await run_in_threadpool(state.gate.try_connect)
        state.sealer.start()
        app.state.ledger = state
        app.state.metrics.watch_store(store)
        app.state.metrics.watch_streams(state.alert_streams)
        app.state.metrics.watch_election(state.election)
        # Everything loaded so far (web3, the chain, the store) lives as long as the
        # process: keep it out of the collector's full passes, which took >100 ms
        # each and showed in the latency tail.
        gc.freeze()
        try:
            yield
        finally:
            await run_in_threadpool(state.close)

    app = FastAPI(
        title="CreditAnchor",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.retry_after = limits.retry_after_seconds
    app.state.metrics = Metrics()
    errors.install(app)
    routers = (verify, consents, health, batches, proofs, submissions, inquiries, erasures, alerts)
    for module in routers:
        app.include_router(module.router)
    alert_webhooks.install(app)
    app.include_router(pages.router)
    app.include_router(verify_api.router)
    app.mount(session.PATH + "/static", StaticFiles(directory=pages.STATIC_DIR))
    openapi.install(app)
    app.add_middleware(BodyLimits, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth)
    app.add_middleware(ConsoleHeaders)  # on the console's refusals too
    app.add_middleware(AccessLog)  # it logs refused bodies too
    deprecation.install(app)  # outermost: refusals of deprecated operations carry it too
    return app
