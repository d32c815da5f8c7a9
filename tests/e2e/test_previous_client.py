"""Old clients keep working: the previous release's ``ledger.client`` against today's server.

The release is taken from git (its tag, or the commit CHANGELOG.md names) with
``git archive`` and installed ``--no-deps`` into a venv of its own, whose other
packages come from this project's venv through a ``.pth`` line: nothing is
downloaded, and the ``ledger`` that venv imports is the old one (asserted by path).
Every call that release's client has (0.1.0: health, ready, submit, batch, verify by
leaf hash and by record, proof, and its typed errors; consent checks and alerts
came later) then runs against a real ``ledger serve`` of today's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import PROBLEM_TYPE_BASE
from ledger import __version__
from ledger.records import synthetic_rows, write_csv
from tests._keys import api_key
from tests._release import Release, export, releases
from tests.conftest import COMMAND_TIMEOUT, stored_records
from tests.e2e.test_serve import _env, _ledger, serving

pytestmark = pytest.mark.slow
CALLS = Path(__file__).with_name("_previous_client_calls.py")


def _previous() -> Release:
    """The newest release CHANGELOG.md dates that is not the version in the tree."""
    older = [r for r in releases() if r.version != __version__]
    assert older, "CHANGELOG.md names no release before this version"
    return older[0]


def _old_venv(tmp: Path, release: Release) -> Path:
    """A venv with the release's package installed and this project's dependencies."""
    source = tmp / "src"
    export(release, source)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    paths = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, env=_plain_env(), cwd=tmp,
    )  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]
    Path(paths.stdout.strip(), "_project_dependencies.pth").write_text(ours + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--no-index", "--ignore-installed", str(source)],
        capture_output=True, text=True, env=_plain_env(), cwd=tmp, timeout=COMMAND_TIMEOUT,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return python


def _plain_env() -> dict[str, str]:
    """No PYTHONPATH (it would put today's tree first) and no LEDGER_* settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME"} and not k.startswith("LEDGER_")
    }


@pytest.fixture
def served(
    tmp_path: Path, deploy_copy: Callable[[Path], Path]
) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    data_dir = deploy_copy(tmp_path / "data")  # what `ledger deploy` leaves
    portfolio = tmp_path / "p.csv"
    write_csv(synthetic_rows(12, seed=21), portfolio)
    submitted = _ledger(data_dir, "submit", str(portfolio), "--json")
    assert submitted.returncode == 0, submitted.stderr
    keys = {"operator_key": api_key(data_dir, "ops", "operator"),
            "auditor_key": api_key(data_dir, "regulator", "auditor")}  # fmt: skip
    with serving(_env(data_dir), tmp_path / "serve.log") as url:
        yield url, data_dir, {**keys, "report": json.loads(submitted.stdout)}


def test_the_previous_release_client_works_against_todays_server(
    tmp_path: Path, served: tuple[str, Path, dict[str, Any]]
) -> None:
    release = _previous()
    python = _old_venv(tmp_path / "old", release)
    url, data_dir, given = served
    records = stored_records(data_dir)
    from ledger.proofs import record_leaf_hash

    leaf_hashes = ["0x" + record_leaf_hash(r).hex() for r in records[:3]]
    report = given["report"]
    batch_id = report["batches"][0]["batch_id"]
    job = {
        "url": url,
        "operator_key": given["operator_key"],
        "auditor_key": given["auditor_key"],
        "rows": list(synthetic_rows(4, seed=22)),
        "records": records[:2],
        "leaf_hashes": leaf_hashes,
        "batch_id": batch_id,
    }
    ran = subprocess.run(
        [python, str(CALLS)], input=json.dumps(job, default=str), capture_output=True,
        text=True, env=_plain_env(), cwd=tmp_path, timeout=COMMAND_TIMEOUT,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)

    assert out["version"] == release.version != __version__
    assert Path(out["ledger_file"]).is_relative_to(tmp_path / "old" / "venv"), out["ledger_file"]
    assert out["health"] is True and out["ready"] is True
    assert out["submitted"]["accepted"] == 4 and out["submitted"]["rejected"] == 0
    assert len(out["submitted"]["batches"]) == 1
    assert out["batch"] == {"status": "anchored", "tree_size": 12, "anchored": True}
    assert out["verify_leaf_hashes"] == [["anchored", True]] * 3 + [["unknown", False]]
    assert out["verify_records"] == [["anchored", True]] * 2
    assert out["proof"] == {"leaf_hash": leaf_hashes[0], "tree_size": 12}
    assert out["missing_batch"] == {"status": 404, "type": PROBLEM_TYPE_BASE + "not-found"}
