"""Settings, from flags, the environment (``LEDGER_*``) and defaults, in that order.

Secrets never have defaults here: the chain key and HMAC keys live in the data
dir with mode 0600 or come from the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".ledger")


class Settings(BaseSettings):
    """Runtime configuration shared by the CLI, the API and the library."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="where keys, chain and store live")
    rpc_url: str | None = Field(
        default=None,
        description="JSON-RPC node URL, or several of one chain comma-separated (fail-over); "
        "unset = embedded chain",
    )
    confirmations: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="blocks mined on top of an anchor's block before its batch counts as "
        "anchored; unset = the network's default (ledger.chain.opening.default_confirmations)",
    )
    confirm_wait: float = Field(
        default=600.0,
        ge=0,
        description="seconds a submission waits for its batches' confirmations before it "
        "leaves them confirming (a later run or `ledger serve` finishes them)",
    )
    receipt_timeout: float = Field(default=120.0, gt=0, description="seconds to await a receipt")
    request_timeout: float = Field(default=30.0, gt=0, description="seconds per RPC request")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; unset = SQLite file")
    store_busy_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="seconds to wait for the store's write lock"
    )
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000, description="records per batch")
    inquiry_seal_size: int = Field(
        default=10_000, ge=1, le=10_000, description="inquiries that trigger a kind-2 batch"
    )
    inquiry_seal_seconds: float = Field(
        default=60.0, gt=0, description="age of the oldest unsealed inquiry that triggers one"
    )
    alerts: bool = Field(
        default=True, description="derive co-lending risk alerts from each submission"
    )
    alert_seal_size: int = Field(
        default=10_000, ge=1, le=10_000, description="alert log entries that trigger a kind-4 batch"
    )
    alert_seal_seconds: float = Field(
        default=60.0,
        gt=0,
        description="age of the oldest unsealed alert log entry that triggers one",
    )
    alerts_plan: Path | None = Field(
        default=None, description="the risk plan (TOML); unset = the packaged default plan"
    )

    # Webhook delivery of risk alerts (ledger.alerts.dispatcher). Tests shrink the
    # times to milliseconds; they never sleep them out.
    alert_retry_schedule: tuple[Annotated[float, Field(ge=0, le=7 * 86400)], ...] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000),
        max_length=64,
        description="seconds before each retry after the first, immediate attempt (JSON list)",
    )
    alert_retry_jitter: float = Field(
        default=0.1, ge=0, le=1, description="each retry delay varies by up to this fraction"
    )
    alert_request_timeout: float = Field(
        default=15.0, gt=0, le=300, description="seconds one webhook POST may take in all"
    )
    alert_claim_seconds: float = Field(
        default=60.0, gt=0, description="how long a claimed delivery is reserved for one sender"
    )
    alert_poll_seconds: float = Field(
        default=0.2, gt=0, le=60, description="how often an idle dispatcher looks for new alerts"
    )
    alert_concurrency: int = Field(default=32, ge=1, le=1024, description="POSTs in flight")
    alert_per_endpoint: int = Field(
        default=8, ge=1, le=1024, description="POSTs in flight to one bank's endpoint"
    )
    alert_allow_hosts: tuple[str, ...] = Field(
        default=(),
        description="host names or IP networks webhooks may reach over plain http or at "
        'private addresses (JSON list, e.g. ["127.0.0.1"])',
    )
    alert_ca_file: Path | None = Field(
        default=None, description="CA bundle for banks' TLS certificates; unset = the system's"
    )
    alert_secret_grace: float = Field(
        default=86400.0, ge=0, description="seconds a rotated-out signing key keeps signing"
    )

    @property
    def deployment_file(self) -> Path:
        return self.data_dir / "deployment.json"
