"""Settings, from flags, the environment (``LEDGER_*``) and defaults, in that order.

Secrets never have defaults here: the chain key and HMAC keys live in the data
dir with mode 0600 or come from the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".ledger")


class Settings(BaseSettings):
    """Runtime configuration shared by the CLI, the API and the library."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="where keys, chain and store live")
    rpc_url: str | None = Field(default=None, description="JSON-RPC node; unset = embedded chain")
    confirmations: int = Field(default=1, ge=1, le=1000, description="blocks before a tx counts")
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
    alerts_plan: Path | None = Field(
        default=None, description="the risk plan (TOML); unset = the packaged default plan"
    )

    @property
    def deployment_file(self) -> Path:
        return self.data_dir / "deployment.json"
