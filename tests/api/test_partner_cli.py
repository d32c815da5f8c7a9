"""``ledger partner add|list|revoke``, run in-process on a Typer app of the real commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from ledger.cli import api_cmds
from ledger.cli.api_cmds import partner_app
from ledger.store import Store
from ledger.store.apikeys import ApiKey, authenticate, hash_key

app = typer.Typer()
app.add_typer(partner_app, name="partner")
runner = CliRunner()


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["partner", *args, "--data-dir", str(data_dir)])
    return result.exit_code, result.output


def test_add_list_revoke(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, out = run(
        data_dir, "add", "bank-a", "--role", "partner", "--institution", "ORG1", "--json"
    )
    assert code == 0, out
    added = json.loads(out)
    key = added["key"]
    assert key.startswith("ca_") and len(key) >= 46
    assert added["role"] == "partner" and added["institution"] == "ORG1"

    code, out = run(data_dir, "add", "ops", "--role", "operator")
    assert code == 0 and "not shown again" in out

    code, out = run(data_dir, "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [k["name"] for k in listed] == ["bank-a", "ops"]
    assert key not in out and hash_key(key) not in out
    code, out = run(data_dir, "list")
    assert code == 0 and "bank-a" in out and key not in out

    store = Store.open(data_dir)
    try:
        with store.session() as s:
            hashes = [k.key_hash for k in s.query(ApiKey)]
        assert hash_key(key) in hashes and key not in hashes
        assert authenticate(store, key) is not None
        code, out = run(data_dir, "revoke", "bank-a")
        assert code == 0 and "revoked bank-a" in out
        assert authenticate(store, key) is None
    finally:
        store.close()
    listed = json.loads(run(data_dir, "list", "--json")[1])
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert run(data_dir, "add", "bank", "--role", "partner")[0] == 2
    assert run(data_dir, "add", "ops", "--role", "operator", "--institution", "X")[0] == 2
    assert run(data_dir, "add", "x", "--role", "root")[0] == 2
    assert run(data_dir, "add", "a b", "--role", "auditor")[0] == 2
    assert run(data_dir, "add", "dup", "--role", "auditor")[0] == 0
    code, out = run(data_dir, "add", "dup", "--role", "auditor")
    assert code == 1 and "exists already" in out
    code, out = run(data_dir, "revoke", "nobody")
    assert code == 1 and "no key named" in out


def test_keys_are_random_and_long(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = {
        json.loads(run(data_dir, "add", f"k{i}", "--role", "auditor", "--json")[1])["key"]
        for i in range(5)
    }
    assert len(keys) == 5
    assert all(len(k) - 3 >= 43 for k in keys)  # 32 bytes of token_urlsafe = 43 characters


def test_serve_runs_the_app_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.delenv("LEDGER_RPC_URL", raising=False)
    monkeypatch.setenv("LEDGER_DATA_DIR", "unused")  # restored after the test
    serve_app = typer.Typer()
    serve_app.command("serve")(api_cmds.serve)
    serve_app.command("other")(lambda: None)

    def serve(*args: str) -> tuple[int, str]:
        result = runner.invoke(serve_app, ["serve", "--data-dir", str(data_dir), *args])
        return result.exit_code, result.output

    code, out = serve()
    assert code == 1 and "ledger deploy" in out and not calls
    data_dir.mkdir()
    (data_dir / "deployment.json").write_text("{}")
    assert serve("--workers", "2")[0] == 2 and not calls
    code, out = serve("--workers", "2", "--rpc", "http://127.0.0.1:9")  # a SQLite store
    assert code == 2 and "PostgreSQL" in out and not calls
    assert serve("--port", "8123")[0] == 0
    ((args, kwargs),) = calls
    assert args == ("api.app:create_app",)
    assert kwargs["factory"] is True and kwargs["port"] == 8123 and kwargs["workers"] == 1
    log_config = kwargs["log_config"]
    assert isinstance(log_config, dict) and log_config["loggers"]["api"]["level"] == "INFO"
    assert kwargs["access_log"] is False  # uvicorn's own would log raw paths and queries
    assert os.environ["LEDGER_DATA_DIR"] == str(data_dir)
