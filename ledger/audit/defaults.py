"""Audit defaults a command shows in its help before the chain stack is loaded."""

from __future__ import annotations

from typing import Final

#: Blocks per eth_getLogs request: public nodes often cap a range near 10,000.
DEFAULT_RANGE: Final = 5000
#: The latest ``ledger audit`` report, kept in the data dir (mode 0600) for the console.
LATEST_REPORT: Final = "audit-report.json"
