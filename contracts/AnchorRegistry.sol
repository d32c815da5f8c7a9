// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/**
 * @title AnchorRegistry
 * @notice Anchors the RFC 6962 Merkle roots of CreditAnchor batches and verifies inclusion
 * proofs against them.
 * @dev Storage is two fresh slots per anchor, the minimum when both the batch id and the root
 * must be unique and looked up: `batchId => root` and `root => packed record`. The manifest hash
 * and the submitter are not stored; they are in the {BatchAnchored} event and folded into
 * `logHead`. `_anchorCount` is declared first so that it shares a slot with Pausable's `_paused`
 * flag (state variables of derived contracts pack after those of their bases): the pause check
 * in {anchor} warms the slot that the count update then writes.
 */
contract AnchorRegistry is IAnchorRegistry, AccessControl, Pausable {
    /// @inheritdoc IAnchorRegistry
    bytes32 public constant SUBMITTER_ROLE = keccak256("SUBMITTER_ROLE");

    /// @inheritdoc IAnchorRegistry
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Bit offsets in a packed record (low bits first): treeSize uint64 at 0, seq uint64,
    /// blockNumber uint48 and timestamp uint40 (year 36812) as in OpenZeppelin's clocks, kind.
    uint256 private constant _SEQ_SHIFT = 64;
    uint256 private constant _BLOCK_SHIFT = 128;
    uint256 private constant _TIME_SHIFT = 176;
    uint256 private constant _KIND_SHIFT = 216;

    /// @dev Largest valid kind: 1 credit-data submission, 2 inquiry log, 3 consent receipts,
    /// 4 risk-alert log.
    uint8 private constant _MAX_KIND = 4;

    /// @dev Number of anchors; shares slot 1 with Pausable's `_paused` (see the contract doc).
    uint64 private _anchorCount;

    /// @dev Head of the hash chain over all anchors, zero before the first.
    bytes32 private _logHead;

    /// @dev Root anchored under each batch id; zero = unknown batch id.
    mapping(bytes32 batchId => bytes32 root) private _rootOfBatch;

    /// @dev `treeSize | seq << 64 | blockNumber << 128 | timestamp << 176 | kind << 216` per
    /// anchored root; zero = unknown root (an anchored tree size is never zero).
    mapping(bytes32 root => uint256 packed) private _records;

    /**
     * @notice Deploys the registry with `admin` as its only role admin.
     * @dev Requirements: `admin` is not the zero address. The deployer then grants
     * `SUBMITTER_ROLE` and `PAUSER_ROLE` with {AccessControl-grantRole}.
     * Emits {IAccessControl-RoleGranted}.
     * @param admin Account receiving `DEFAULT_ADMIN_ROLE`.
     */
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 batchId, bytes32 root, uint64 treeSize, uint8 kind, bytes32 manifestHash)
        external
        onlyRole(SUBMITTER_ROLE)
        whenNotPaused
    {
        if (batchId == bytes32(0)) revert ZeroBatchId();
        if (root == bytes32(0)) revert ZeroRoot();
        if (treeSize == 0) revert ZeroTreeSize();
        if (kind == 0 || kind > _MAX_KIND) revert InvalidKind(kind);
        if (_rootOfBatch[batchId] != bytes32(0)) revert BatchAlreadyAnchored(batchId);
        if (_records[root] != 0) revert RootAlreadyAnchored(root);

        uint64 seq = _anchorCount;
        bytes32 head = keccak256(abi.encode(_logHead, batchId, root, treeSize, kind, manifestHash));
        _rootOfBatch[batchId] = root;
        _records[root] = _pack(treeSize, seq, kind);
        _logHead = head;
        _anchorCount = seq + 1;
        emit BatchAnchored(batchId, root, _msgSender(), treeSize, kind, manifestHash, seq, head);
    }

    /// @inheritdoc IAnchorRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IAnchorRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IAnchorRegistry
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _unpack(root, _records[root]);
    }

    /// @inheritdoc IAnchorRegistry
    function anchorByBatch(bytes32 batchId) external view returns (Anchor memory) {
        bytes32 root = _rootOfBatch[batchId];
        return _unpack(root, _records[root]);
    }

    /// @inheritdoc IAnchorRegistry
    function isAnchored(bytes32 root) external view returns (bool) {
        return _records[root] != 0;
    }

    /// @inheritdoc IAnchorRegistry
    function logHead() external view returns (bytes32) {
        return _logHead;
    }

    /// @inheritdoc IAnchorRegistry
    function anchorCount() external view returns (uint64) {
        return _anchorCount;
    }

    /// @inheritdoc IAnchorRegistry
    function verifyInclusion(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool) {
        return _verifyInclusion(leafHash, index, treeSize, proof, root);
    }

    /// @inheritdoc IAnchorRegistry
    function isAnchoredLeaf(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool) {
        uint256 packed = _records[root];
        if (packed == 0 || uint64(packed) != treeSize) return false;
        return _verifyInclusion(leafHash, index, treeSize, proof, root);
    }

    /**
     * @dev RFC 9162 section 2.1.3.2, in assembly to keep a proof level near the cost of the
     * SHA-256 precompile itself. In Solidity terms:
     *
     *     fn = index; sn = treeSize - 1; r = leafHash;
     *     for p in proof:
     *         if sn == 0: return false
     *         if fn & 1 == 1 or fn == sn:
     *             r = H(0x01 || p || r)                   // p is a left sibling
     *             while fn & 1 == 0 and fn != 0:          // skip levels without a sibling
     *                 fn >>= 1; sn >>= 1
     *         else:
     *             r = H(0x01 || r || p)                   // p is a right sibling
     *         fn >>= 1; sn >>= 1
     *     return sn == 0 and r == root
     *
     * The 65-byte hash input `0x01 || left || right` is built in free memory (the free memory
     * pointer is not moved) and the digest returned into scratch space. At most 64 elements are
     * ever hashed: `sn < 2**64` reaches zero after 64 shifts and a longer proof then fails. The
     * precompile only fails when out of gas; the call then reverts without data.
     * @param leafHash SHA-256(0x00 || leaf data).
     * @param index 0-based index of the leaf.
     * @param treeSize Number of leaves in the tree.
     * @param proof Audit path, from the leaf's sibling upwards.
     * @param root Expected tree head.
     * @return valid True when the proof is valid; false otherwise, including for
     * `index >= treeSize` (and so for `treeSize == 0`).
     */
    function _verifyInclusion(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) private view returns (bool valid) {
        if (index >= treeSize) return false;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let fn := index
            let sn := sub(treeSize, 1)
            let r := leafHash
            let end := add(proof.offset, shl(5, proof.length))
            valid := 1
            for { let p := proof.offset } lt(p, end) { p := add(p, 0x20) } {
                if iszero(sn) {
                    valid := 0
                    break
                }
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    mstore(add(buf, 0x01), r)
                    mstore(add(buf, 0x21), calldataload(p))
                }
                default {
                    mstore(add(buf, 0x01), calldataload(p))
                    mstore(add(buf, 0x21), r)
                    for {} and(iszero(and(fn, 1)), iszero(iszero(fn))) {} {
                        fn := shr(1, fn)
                        sn := shr(1, sn)
                    }
                }
                if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) { revert(0, 0) }
                r := mload(0x00)
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            valid := and(valid, and(iszero(sn), eq(r, root)))
        }
    }

    /**
     * @dev Packs one record into a single word with the current block number and timestamp.
     * @param treeSize Number of leaves (non-zero, so a stored record is never zero).
     * @param seq Sequence number of the anchor.
     * @param kind Batch kind.
     * @return The packed record.
     */
    function _pack(uint64 treeSize, uint64 seq, uint8 kind) private view returns (uint256) {
        return uint256(treeSize) | (uint256(seq) << _SEQ_SHIFT)
            | (uint256(uint48(block.number)) << _BLOCK_SHIFT)
            | (uint256(uint40(block.timestamp)) << _TIME_SHIFT) | (uint256(kind) << _KIND_SHIFT);
    }

    /**
     * @dev Unpacks a record; a zero record gives an all-zero struct (the root too).
     * @param root Root the record belongs to.
     * @param packed The packed record.
     * @return a The anchor.
     */
    function _unpack(bytes32 root, uint256 packed) private pure returns (Anchor memory a) {
        if (packed == 0) return a;
        a.root = root;
        a.treeSize = uint64(packed);
        a.seq = uint64(packed >> _SEQ_SHIFT);
        a.blockNumber = uint48(packed >> _BLOCK_SHIFT);
        a.timestamp = uint40(packed >> _TIME_SHIFT);
        a.kind = uint8(packed >> _KIND_SHIFT);
    }
}
