"""API limits, from ``LEDGER_API_*`` environment variables or arguments."""

from __future__ import annotations

from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.jsontext import MAX_JSON_DEPTH

#: Items per ``POST /v1/verify`` or ``/v1/submissions`` request (issue 4: up to 10000).
MAX_ITEMS: Final = 10_000


class ApiSettings(BaseSettings):
    """Limits of the HTTP layer (the ledger's own settings stay in ``ledger.config``)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_API_", extra="ignore")

    # 10000 records of about 1 KB each, with room to spare.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="413 beyond")
    max_json_depth: int = Field(default=MAX_JSON_DEPTH, ge=2, le=256, description="400 beyond")
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After on a 503")
    # A key revoked by `ledger partner revoke` (another process) works at most this long.
    key_cache_seconds: float = Field(
        default=1.0, ge=0, le=60, description="how long a verified API key is remembered"
    )
    # POST /v1/submissions on a worker that is not the anchor sender: it stores the
    # batches and waits for the sender to anchor them (503 with Retry-After beyond;
    # the same rows again resume the submission).
    anchor_wait_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="how long a submission waits for its anchors"
    )
    # GET /v1/alerts/stream (Server-Sent Events). Each stream ends after
    # alert_stream_seconds (the client reconnects with Last-Event-ID): a server that
    # is asked to stop waits for open streams at most that long.
    alert_stream_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="how long one alert stream stays open"
    )
    alert_stream_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often an idle stream looks for new alerts"
    )
    alert_stream_heartbeat_seconds: float = Field(
        default=15.0, gt=0, le=300, description="a comment line on an idle stream this often"
    )
    alert_stream_max_clients: int = Field(
        default=64, ge=1, le=10_000, description="open alert streams per process; 503 beyond"
    )
