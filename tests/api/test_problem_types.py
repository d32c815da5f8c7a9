"""Problem ``type`` URIs are stable and documented: one list (api/errors.py), README's
table, every error the server can answer with, and the OpenAPI document all agree."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import api
import ledger
from api.app import create_app
from api.errors import _STATUS, PROBLEM_TYPE_BASE, PROBLEM_TYPES, problem_types
from api.openapi import published
from api.openapi.compat import breaking_changes
from ledger.chain.errors import ContractRevert
from ledger.config import Settings
from ledger.errors import LedgerError

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| `([a-z0-9-]+)` \| (\d{3}|as sent) \| (.+) \|$", re.MULTILINE)
#: ``problem(<status>, "<code>", ...)`` calls: the API's own answers beside LedgerErrors.
_CALL = re.compile(r'\bproblem\(\s*(\d{3}),\s*"([a-z0-9-]+)"')
#: The codes api/errors.py gives HTTP-level refusals (its ``on_http``).
HTTP_CODES = ("not-found", "method-not-allowed", "http-error")


def _all_modules() -> None:
    for package in (ledger, api):
        for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in found.name:
                importlib.import_module(found.name)


def _subclasses(cls: type[LedgerError]) -> Iterator[type[LedgerError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _family_status(cls: type[LedgerError]) -> int:
    return next((status for family, status in _STATUS if issubclass(cls, family)), 500)


def test_every_ledger_error_the_server_can_raise_has_its_documented_type() -> None:
    """Any LedgerError raised in a request becomes a problem with its ``code``: each one
    is listed, with the status its family maps to (the client's own errors are not)."""
    _all_modules()
    server_side = [
        cls
        for cls in [LedgerError, *_subclasses(LedgerError)]
        if not cls.__module__.startswith("ledger.client")
        and not (issubclass(cls, ContractRevert) and cls.solidity_name)
        and not cls.__module__.startswith("tests")
    ]
    assert len(server_side) > 30
    for cls in server_side:
        assert cls.code in PROBLEM_TYPES, f"{cls.__module__}.{cls.__name__}: {cls.code}"
        assert PROBLEM_TYPES[cls.code].status == _family_status(cls), cls


def test_every_code_the_api_writes_itself_is_listed() -> None:
    sources = [*(ROOT / "api").glob("*.py"), *(ROOT / "api").glob("*/*.py")]
    written = {
        (int(status), code)
        for path in sources
        for status, code in _CALL.findall(path.read_text(encoding="utf-8"))
    }
    assert {code for _, code in written} >= {"validation", "too-large", "not-utf8", "internal"}
    for status, code in written:
        assert PROBLEM_TYPES[code].status == status, code
    errors_source = (ROOT / "api" / "errors.py").read_text(encoding="utf-8")
    for code in HTTP_CODES:
        assert f'"{code}"' in errors_source and code in PROBLEM_TYPES


def test_the_readme_table_is_the_list() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {code: (status, meaning) for code, status, meaning in _ROW.findall(readme)}
    listed = {
        code: (str(entry.status or "as sent"), entry.meaning)
        for code, entry in PROBLEM_TYPES.items()
    }
    assert rows == listed
    for revert in ContractRevert.by_name.values():
        assert f"`{revert.code}`" in readme, revert.solidity_name


def test_the_openapi_document_publishes_the_list(tmp_path: Path) -> None:
    doc = create_app(Settings(data_dir=tmp_path / "data", rpc_url=None)).openapi()
    published_types = doc["info"]["x-problem-types"]
    assert published_types == problem_types()
    uris = [entry["type"] for entry in published_types]
    assert all(uri.startswith(PROBLEM_TYPE_BASE) for uri in uris)
    assert len(set(uris)) == len(uris) == len(PROBLEM_TYPES) + len(ContractRevert.by_name)
    # The gate holds them: once published, a type cannot go silently.
    assert {e["type"] for e in published()["info"].get("x-problem-types", [])} <= set(uris)


@pytest.mark.parametrize("code", ["validation", "erased", "batch-already-anchored"])
def test_removing_a_published_type_breaks_the_gate(tmp_path: Path, code: str) -> None:
    doc = create_app(Settings(data_dir=tmp_path / "data", rpc_url=None)).openapi()
    new = {**doc, "info": dict(doc["info"])}
    new["info"]["x-problem-types"] = [
        e for e in doc["info"]["x-problem-types"] if e["type"] != PROBLEM_TYPE_BASE + code
    ]
    assert [c.key for c in breaking_changes(doc, new)] == [
        f"problem-type-removed info {PROBLEM_TYPE_BASE}{code}"
    ]
