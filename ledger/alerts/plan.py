"""The risk emergency plan (风险应急预案): severities per loan, thresholds per bank, levels.

A TOML file agreed with the partner banks (``--plan FILE``; the default is
``default_plan.toml`` beside this module). It is checked whole when it loads:
a plan that cannot be applied is refused with one :class:`PlanError` line,
never half-applied.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.errors import InputError

DEFAULT_PLAN: Final = Path(__file__).with_name("default_plan.toml")
METRICS: Final = (
    "m1_plus_balance_ratio",
    "m2_plus_balance_ratio",
    "m1_m2_roll_rate",
    "new_critical_alerts",
)
#: Severities at or beyond this one count as critical for ``new_critical_alerts``.
CRITICAL: Final = "critical"
#: Hours an alert may wait to be delivered or acknowledged when the plan names none.
DEFAULT_WINDOW_HOURS: Final = 24
#: The longest window a plan may set (30 days): an alert unanswered longer is not "on time".
MAX_WINDOW_HOURS: Final = 720
_TOP: Final = frozenset({"name", "version", "delivery", "severity", "threshold", "level"})


class PlanError(InputError):
    """A risk plan file that cannot be applied."""

    code = "plan-invalid"


@dataclass(frozen=True, slots=True)
class Severity:
    name: str
    min_dpd: int


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    above: float
    level: int


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    name: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """A loaded plan: severities by ascending ``min_dpd``, levels by number."""

    name: str
    version: int
    severities: tuple[Severity, ...]
    thresholds: tuple[Threshold, ...]
    levels: tuple[Level, ...]
    digest: str  # "0x" + SHA-256 of the file's bytes: which plan was in force
    #: Hours within which every alert must be delivered to, or acknowledged by, its bank
    #: (``[delivery] window_hours``); the audit reports an alert that was not.
    window_hours: int = DEFAULT_WINDOW_HOURS

    @classmethod
    def load(cls, path: Path | None = None) -> Plan:
        source = path or DEFAULT_PLAN
        try:
            raw = source.read_bytes()
        except OSError as exc:
            raise PlanError(f"cannot read the risk plan {source}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PlanError(f"the risk plan {source.name} is not TOML: {exc}") from None
        return _parse(data, "0x" + hashlib.sha256(raw).hexdigest())

    def severity(self, dpd: int) -> str | None:
        """The name of the highest severity ``dpd`` days past due reach (None below all)."""
        reached = [s.name for s in self.severities if dpd >= s.min_dpd]
        return reached[-1] if reached else None

    @property
    def critical_dpd(self) -> int | None:
        """Days past due from which a loan counts as critical (None: no such severity)."""
        names = [s.name for s in self.severities]
        if CRITICAL not in names:
            return None
        return self.severities[names.index(CRITICAL)].min_dpd

    def level(self, number: int) -> Level:
        return next(level for level in self.levels if level.level == number)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "delivery": {"window_hours": self.window_hours},
            "severities": [{"name": s.name, "min_dpd": s.min_dpd} for s in self.severities],
            "thresholds": [
                {"metric": t.metric, "above": t.above, "level": t.level} for t in self.thresholds
            ],
            "levels": [
                {"level": lv.level, "name": lv.name, "actions": list(lv.actions)}
                for lv in self.levels
            ],
        }


def _parse(data: Mapping[str, Any], digest: str) -> Plan:
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise PlanError(f"the risk plan has unknown keys: {', '.join(unknown)}")
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not name:
        raise PlanError("the risk plan needs a name")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PlanError("the risk plan needs a version (a positive integer)")
    severities = tuple(
        Severity(_text(e, "name", "severity"), _int(e, "min_dpd", "severity", low=1))
        for e in _tables(data, "severity")
    )
    if [s.min_dpd for s in severities] != sorted({s.min_dpd for s in severities}):
        raise PlanError("severities must be listed by strictly increasing min_dpd")
    if len({s.name for s in severities}) != len(severities):
        raise PlanError("each severity name may be used once")
    levels = tuple(
        Level(
            _int(e, "level", "level", low=1),
            _text(e, "name", "level"),
            tuple(_texts(e, "actions", "level")),
        )
        for e in _tables(data, "level")
    )
    numbers = [lv.level for lv in levels]
    if numbers != list(range(1, len(levels) + 1)):
        raise PlanError("levels must be numbered 1, 2, 3 ... in order, starting at 1")
    thresholds = []
    for entry in _tables(data, "threshold"):
        metric = _text(entry, "metric", "threshold")
        if metric not in METRICS:
            raise PlanError(f"unknown threshold metric {metric!r}; known: {', '.join(METRICS)}")
        above = entry.get("above")
        if not isinstance(above, (int, float)) or isinstance(above, bool) or above < 0:
            raise PlanError(f"threshold {metric}: 'above' must be a number >= 0")
        level = _int(entry, "level", "threshold", low=2)
        if level not in numbers:
            raise PlanError(f"threshold {metric} names level {level}, which the plan lacks")
        thresholds.append(Threshold(metric, float(above), level))
    window = _window_hours(data.get("delivery", {}))
    return Plan(name, version, severities, tuple(thresholds), levels, digest, window)


def _window_hours(delivery: Any) -> int:
    """``[delivery] window_hours``: whole hours, 1 to :data:`MAX_WINDOW_HOURS`."""
    if not isinstance(delivery, dict):
        raise PlanError("[delivery] must be a table")
    unknown = sorted(set(delivery) - {"window_hours"})
    if unknown:
        raise PlanError(f"[delivery] has unknown keys: {', '.join(unknown)}")
    hours = delivery.get("window_hours", DEFAULT_WINDOW_HOURS)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_WINDOW_HOURS:
        raise PlanError(
            f"[delivery] window_hours must be a whole number of hours, 1-{MAX_WINDOW_HOURS}"
        )
    return hours


_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "severity": frozenset({"name", "min_dpd"}),
    "threshold": frozenset({"metric", "above", "level"}),
    "level": frozenset({"level", "name", "actions"}),
}


def _tables(data: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PlanError(f"[[{key}]] must be a list of tables")
    for entry in entries:
        unknown = sorted(set(entry) - _KEYS[key])
        if unknown:  # a misspelt key would otherwise be a rule silently not applied
            raise PlanError(f"[[{key}]] has unknown keys: {', '.join(unknown)}")
    return entries


def _text(entry: Mapping[str, Any], key: str, table: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"every [[{table}]] needs a non-empty {key}")
    return value


def _texts(entry: Mapping[str, Any], key: str, table: str) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PlanError(f"[[{table}]] {key} must be a list of non-empty strings")
    return value


def _int(entry: Mapping[str, Any], key: str, table: str, *, low: int) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise PlanError(f"every [[{table}]] needs {key}, an integer >= {low}")
    return value
