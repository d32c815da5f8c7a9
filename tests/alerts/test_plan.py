"""The risk plan file: the default loads, and a plan that cannot be applied is refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.alerts.plan import DEFAULT_PLAN, DEFAULT_WINDOW_HOURS, Plan, PlanError


def test_the_default_plan() -> None:
    plan = Plan.load()
    assert [plan.severity(d) for d in (0, 1, 31, 90, 91, 181)] == [
        None, "info", "warning", "warning", "critical", "write_off_candidate",
    ]  # fmt: skip
    assert plan.critical_dpd == 91
    assert [lv.level for lv in plan.levels] == [1, 2, 3]
    assert plan.level(3).actions and plan.digest.startswith("0x")
    assert {t.metric for t in plan.thresholds} >= {"m1_plus_balance_ratio", "m1_m2_roll_rate"}
    assert plan.window_hours == 24 and plan.to_json()["delivery"] == {"window_hours": 24}


BROKEN = {
    "unknown key": "surprise = 1\n",
    "unordered severities": (
        '[[severity]]\nname="b"\nmin_dpd=31\n[[severity]]\nname="a"\nmin_dpd=1\n'
    ),
    "unknown metric": '[[threshold]]\nmetric="npl"\nabove=0.1\nlevel=2\n',
    "missing level": '[[threshold]]\nmetric="m1_m2_roll_rate"\nabove=0.1\nlevel=4\n',
    "negative bound": '[[threshold]]\nmetric="m1_m2_roll_rate"\nabove=-1\nlevel=2\n',
    "levels not from 1": '[[level]]\nlevel=2\nname="x"\n',
}


@pytest.mark.parametrize("extra", BROKEN.values(), ids=BROKEN.keys())
def test_a_plan_that_cannot_be_applied_is_refused(tmp_path: Path, extra: str) -> None:
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    if "[[severity]]" in extra or "[[level]]" in extra:  # replace those tables, keep the rest
        keep = "[[threshold]]" if "[[level]]" in extra else "[[level]]"
        head = 'name = "t"\nversion = 1\n'
        text = head + extra + (text[text.index(keep) :] if keep == "[[level]]" else "")
    else:
        text += extra
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError):
        Plan.load(path)


def test_a_file_that_is_not_toml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(b"\xff\xfe not toml")
    with pytest.raises(PlanError, match="not TOML"):
        Plan.load(path)
    with pytest.raises(PlanError, match="cannot read"):
        Plan.load(tmp_path / "missing.toml")


def _with_delivery(tmp_path: Path, table: str) -> Path:
    """The default plan with its ``[delivery]`` table replaced by ``table`` ("" for none)."""
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    start = text.index("\n[delivery]\n") + 1  # the table, not the comment naming it
    end = text.index("\n[[severity]]\n") + 1
    path = tmp_path / "plan.toml"
    path.write_text(text[:start] + table + text[end:], encoding="utf-8")
    return path


def test_the_delivery_window_is_read_and_has_a_default(tmp_path: Path) -> None:
    assert Plan.load(_with_delivery(tmp_path, "[delivery]\nwindow_hours = 48\n")).window_hours == 48
    assert (
        Plan.load(_with_delivery(tmp_path, "[delivery]\nwindow_hours = 720\n")).window_hours == 720
    )
    assert Plan.load(_with_delivery(tmp_path, "")).window_hours == DEFAULT_WINDOW_HOURS
    assert Plan.load(_with_delivery(tmp_path, "[delivery]\n")).window_hours == DEFAULT_WINDOW_HOURS


WINDOWS = {
    "zero": "[delivery]\nwindow_hours = 0\n",
    "over 30 days": "[delivery]\nwindow_hours = 721\n",
    "text": '[delivery]\nwindow_hours = "24"\n',
    "fraction": "[delivery]\nwindow_hours = 1.5\n",
    "boolean": "[delivery]\nwindow_hours = true\n",
    "misspelt key": "[delivery]\nwindow_hour = 24\n",
    "not a table": "delivery = 24\n",
}


@pytest.mark.parametrize("table", WINDOWS.values(), ids=WINDOWS.keys())
def test_a_delivery_window_that_cannot_be_applied_is_refused(tmp_path: Path, table: str) -> None:
    with pytest.raises(PlanError, match="delivery"):
        Plan.load(_with_delivery(tmp_path, table))
