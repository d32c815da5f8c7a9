"""Release discipline: one version, a changelog that names each release's commit, and a
published OpenAPI document that is exactly what that release served."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from api.openapi import PUBLISHED, dumps, published
from ledger import __version__
from tests._release import CHANGELOG, export, releases, resolve
from tests.conftest import COMMAND_TIMEOUT, REPO, ledger_cli


def test_the_version_is_declared_once() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ledger.__version__"}


def test_ledger_version_reports_it() -> None:
    done = subprocess.run([ledger_cli(), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ledger {__version__}"


def test_the_changelog_has_this_version_and_an_unreleased_section() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "\n## [Unreleased]\n" in text
    assert f"\n## [{__version__}] - " in text
    assert releases(), "no dated release"


def test_each_dated_release_resolves_to_a_commit_of_its_version() -> None:
    """Its tag or its ``Commit:`` line; that commit's ledger/__init__.py has its version."""
    for release in releases():
        sha = resolve(release)
        shown = subprocess.run(
            ["git", "show", f"{sha}:ledger/__init__.py"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert f'__version__ = "{release.version}"' in shown.stdout, release


@pytest.mark.slow
def test_the_published_openapi_document_is_what_its_release_served(tmp_path: Path) -> None:
    """v1.json is rebuilt from the release's own tree, by the release's own code."""
    doc = published()
    (release,) = [r for r in releases() if r.version == doc["info"]["version"]]
    tree = tmp_path / "tree"
    export(release, tree)
    code = (
        "import json, sys, api, ledger\n"
        "assert api.__file__.startswith(sys.argv[1]), api.__file__\n"
        "from api.app import create_app\n"
        "print(json.dumps(create_app().openapi()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"PYTHONPATH": str(tree), "LEDGER_DATA_DIR": str(tmp_path / "data")}
    built = subprocess.run(
        [sys.executable, "-c", code, str(tree)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=COMMAND_TIMEOUT,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert dumps(json.loads(built.stdout)) == PUBLISHED.read_text(encoding="utf-8")


def _openapi_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "openapi.py"), *args],
        capture_output=True, text=True, cwd=REPO, timeout=COMMAND_TIMEOUT,
        env=env | {"LEDGER_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip


@pytest.mark.slow
def test_make_openapi_writes_the_apps_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v1.json"
    done = _openapi_script(tmp_path, "--output", str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["info"]["version"] == __version__
    assert written["info"]["x-problem-types"]
    spec = importlib.util.spec_from_file_location("openapi_script", REPO / "scripts" / "openapi.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check", "--output", str(out)]) == 0
    out.write_text("{}\n", encoding="utf-8")
    assert script.main(["--check", "--output", str(out)]) == 1
    assert "differs from the app" in capsys.readouterr().out
