"""Logging: one JSON object per line on stderr, level from ``LEDGER_LOG_LEVEL``.

What is logged is chosen at the call sites: ids, hashes, counts and timings —
never a record's content or a personal value (a test greps the output for
canaries at DEBUG level).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

ENV_LEVEL = "LEDGER_LOG_LEVEL"
DEFAULT_LEVEL = "WARNING"


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., **extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False, sort_keys=True)


def configure(level: str | None = None) -> None:
    """Send ``ledger.*`` logs to stderr as JSON lines (idempotent)."""
    name = (level or os.environ.get(ENV_LEVEL) or DEFAULT_LEVEL).upper()
    logger = logging.getLogger("ledger")
    logger.setLevel(getattr(logging, name, logging.WARNING))
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False


def event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields`` (ids, hashes, counts — no personal data)."""
    logger.log(level, msg, extra={"fields": fields})
