"""Published RFC 6962 test vectors, as used by Certificate Transparency.

Every value below comes from github.com/transparency-dev/merkle (Apache-2.0),
the Merkle library behind Trillian and the CT Go code:

- ``testonly/constants.go`` (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1):
  ``LeafInputs``, ``NodeHashes``, ``RootHashes``, ``EmptyRootHash``.
- ``proof/verify_test.go`` (commit 02194e9afb6c1d95b5381350007963aa70fff472):
  ``inclusionProofs``, ``consistencyProofs`` (and the same ``roots``).

The Go inclusion vectors number leaves from 1 (their test passes ``leaf - 1``);
the indices here are 0-based.
"""

from __future__ import annotations

import hashlib

import pytest

from ledger.proofs import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)


def _h(hex_digest: str) -> bytes:
    value = bytes.fromhex(hex_digest)
    assert len(value) == 32
    return value


LEAF_INPUTS = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# NodeHashes(): level 0 are the leaf hashes, level 3 the root of all eight.
NODE_HASHES = [
    [
        _h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        _h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        _h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        _h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        _h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        _h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        _h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# RootHashes(), indexed by tree size; size 0 is EmptyRootHash().
ROOTS = [
    _h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    _h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    _h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    _h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    _h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    _h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    _h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# inclusionProofs: (0-based index, tree size, audit path).
INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [_h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            _h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# consistencyProofs: (old size, new size, proof).
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            _h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            _h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            _h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            _h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            _h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            _h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            _h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

LEAF_HASHES = [leaf_hash(data) for data in LEAF_INPUTS]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == ROOTS[0] == hashlib.sha256(b"").digest()
    assert root([]) == EMPTY_ROOT
    assert MerkleTree([]).root == EMPTY_ROOT
    assert MerkleTree([]).size == 0


def test_leaf_hashes_match_published_level_zero() -> None:
    assert NODE_HASHES[0] == LEAF_HASHES


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_published_roots(size: int) -> None:
    assert root(LEAF_HASHES[:size]) == ROOTS[size]
    tree = MerkleTree(LEAF_HASHES[:size])
    assert tree.root == ROOTS[size]
    assert tree.size == size


@pytest.mark.parametrize(
    ("level", "index"),
    [(level, index) for level, nodes in enumerate(NODE_HASHES) for index in range(len(nodes))],
)
def test_complete_subtree_roots_match_published_node_hashes(level: int, index: int) -> None:
    width = 1 << level
    assert root(LEAF_HASHES[index * width : (index + 1) * width]) == NODE_HASHES[level][index]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_published_vectors(
    index: int, size: int, proof: list[bytes]
) -> None:
    leaves = LEAF_HASHES[:size]
    assert MerkleTree(leaves).inclusion_proof(index) == proof
    assert inclusion_proof(leaves, index) == proof
    assert root_from_inclusion_proof(LEAF_HASHES[index], index, size, proof) == ROOTS[size]
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_published_vectors(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    leaves = LEAF_HASHES[:new_size]
    assert MerkleTree(leaves).consistency_proof(old_size) == proof
    assert consistency_proof(leaves, old_size) == proof
    verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)
