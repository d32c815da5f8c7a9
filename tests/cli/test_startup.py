"""What a command loads before it runs: the chain stack only where the chain is used."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys

import typer

from ledger.cli.main import COMMANDS
from tests.cli._cli import run

#: web3, eth-account and py-evm take seconds to import (py_ecc precomputes at import).
HEAVY = ("web3", "eth_account", "eth_tester", "eth", "py_ecc", "uvicorn")


def test_the_submitting_process_loads_no_chain_stack() -> None:
    """The CLI and a submission's side import no web3, eth-account or py-evm (seconds)."""
    code = (
        "import sys\n"
        "import ledger.cli.main, ledger.ingest.session, ledger.chain, ledger.consent\n"
        "import ledger.audit, ledger.client\n"
        "from ledger.chain.signer import address_of\naddress_of(bytes(31) + b'\\x01')\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = "import ledger.chain as c, sys\nc.Chain, c.open_chain\nprint('web3' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"  # and they load when asked for


def _command_modules(*args: str) -> list[str]:
    """The ``ledger.cli`` command modules a ``ledger ARGS`` process imported."""
    code = (
        "import sys\nfrom ledger.cli.main import run\nsys.argv = ['ledger', *sys.argv[1:]]\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ledger.cli.') and m[11:] != 'main'"
        " and not m[11:].startswith('_')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    return list(ast.literal_eval(done.stdout.splitlines()[-1]))


def test_a_command_loads_only_its_own_module() -> None:
    assert _command_modules("--version") == []
    assert _command_modules("db", "--help") == ["ledger.cli.db_cmds"]
    assert _command_modules("db", "current", "--help") == ["ledger.cli.db_cmds"]
    # A command group's module may import its subcommands' (webhook_cmds), no other.
    assert "ledger.cli.submit_cmds" not in _command_modules("partner", "list", "--help")
    # No command named (or one that is no command): every command, for click to list.
    for args in (["--help"], ["nosuch"]):
        assert {m for m, _ in COMMANDS.values()} <= set(_command_modules(*args))


def test_help_lists_every_command_with_its_help() -> None:
    done = run("--help", env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    listed: list[list[str]] = []  # each command's name and the lines of its help
    for line in done.stdout.split("─ Commands ─", 1)[1].strip().splitlines()[1:-1]:
        row = re.fullmatch(r"│ ([a-z-]+)? +(.*?) *│", line)
        assert row, line
        if row[1]:
            listed.append([row[1], row[2]])
        else:
            listed[-1].append(row[2])
    assert [name for name, *_ in listed] == list(COMMANDS)
    for name, *shown in listed:
        module, attr = COMMANDS[name]
        target = getattr(importlib.import_module(module), attr)
        text = target.info.help if isinstance(target, typer.Typer) else inspect.getdoc(target)
        assert text and " ".join(shown) == " ".join(text.split("\n\n")[0].split()), name
