"""Deploy and anchor in one process; a new process finds it all on the embedded chain."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ledger.chain import Chain, Deployment, check_deployment
from ledger.chain.registry import AnchorRegistryClient

WRITER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from ledger.chain import Chain, deploy
    from ledger.chain.registry import AnchorRegistryClient, BatchKind
    data_dir = Path(sys.argv[1])
    with Chain.embedded(data_dir) as chain:
        deployment, _ = deploy(chain, data_dir)
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        out = []
        for size in (1, 17, 1000):
            e = registry.anchor(
                os.urandom(32), os.urandom(32), size, BatchKind.CREDIT_DATA, os.urandom(32)
            )
            out.append({"batch": e.batch_id.hex(), "root": e.root.hex(), "size": size,
                        "block": e.block_number, "head": e.log_head.hex()})
    print(json.dumps(out))
    """
)


def test_deployment_and_anchors_survive_a_new_process(data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(data_dir)], capture_output=True, text=True, check=True
    )
    written = json.loads(done.stdout)
    deployment = Deployment.load(data_dir / "deployment.json")
    with Chain.embedded(data_dir) as chain:
        check_deployment(chain, deployment)
        registry = AnchorRegistryClient.from_deployment(chain, deployment)
        assert registry.anchor_count() == len(written)
        assert registry.log_head().hex() == written[-1]["head"]
        for item in written:
            record = registry.anchor_by_batch(bytes.fromhex(item["batch"]))
            assert record is not None
            assert record.root.hex() == item["root"]
            assert record.tree_size == item["size"]
            assert record.block_number == item["block"]
        events = registry.events(deployment.deployment_block)
        assert [e.batch_id.hex() for e in events] == [i["batch"] for i in written]
