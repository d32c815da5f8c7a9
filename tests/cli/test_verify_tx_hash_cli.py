"""``ledger verify`` refuses a bundle whose ``anchor.tx_hash`` did not anchor it.

Finding 4 of issue 17, as real ``ledger`` processes: with the data dir's embedded
chain and with ``--rpc`` against a real anvil node. Each forged bundle differs from
the genuine one only in its ``tx_hash`` (see :mod:`tests._anchor_block`); each is
refused with one error line naming what did not match. ``--offline`` accepts them
and says that neither the anchor nor its transaction was checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ledger.chain import Chain
from ledger.proofs import bundle_text
from tests._anchor_block import anchor_block
from tests.cli._cli import one_error_line, run_all


def flat(text: str) -> str:
    return " ".join(text.split())


def test_verify_checks_the_bundles_transaction(
    any_chain: Chain, data_dir: Path, tmp_path: Path
) -> None:
    block = anchor_block(any_chain, data_dir)
    any_chain.close()  # the CLI opens the embedded chain itself
    rpc_url = any_chain.rpc_url

    def where(name: str) -> list[str]:
        if rpc_url is not None:
            return ["--rpc", rpc_url, "--data-dir", str(data_dir)]
        copy = tmp_path / "copies" / name  # one embedded chain per process: its own copy
        shutil.copytree(data_dir, copy)
        return ["--data-dir", str(copy)]

    bundles = {"genuine": block.genuine} | {n: b for n, (b, _) in block.forged.items()}
    files = {}
    for n, (name, bundle) in enumerate(bundles.items()):
        files[name] = tmp_path / f"bundle-{n}.json"
        files[name].write_text(bundle_text(bundle), encoding="utf-8")
    commands = [["verify", str(path), *where(name)] for name, path in files.items()]
    forged_file = str(files["an anchor in a later block"])
    if rpc_url is None:  # --offline asks no chain: once is enough
        commands += [
            ["verify", forged_file, "--offline"],
            ["verify", forged_file, "--offline", "--json"],
        ]
    answers = run_all(commands)
    checked, offline = answers[: len(files)], answers[len(files) :]

    genuine = checked[0]
    assert genuine.returncode == 0, genuine.stderr
    assert flat(genuine.stdout).startswith("VALID:")
    for (name, (bundle, reason)), done in zip(block.forged.items(), checked[1:], strict=True):
        assert done.returncode == 1, f"{name}: exit {done.returncode}\n{done.stdout}"
        line = one_error_line(done)
        assert reason in line and "0x" + bundle.anchor.tx_hash.hex() in line, (name, line)
        assert "VALID" not in done.stdout, name
    tx = "0x" + block.genuine.anchor.tx_hash.hex()
    assert f"by transaction {tx}" in flat(genuine.stdout)

    if offline:
        text, as_json = offline
        assert text.returncode == 0, text.stderr
        assert "anchor and its transaction NOT checked" in flat(text.stdout)
        assert as_json.returncode == 0, as_json.stderr
        result = json.loads(as_json.stdout)
        assert result["anchor_checked"] is False and result["transaction_checked"] is False
