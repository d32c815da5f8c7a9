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
