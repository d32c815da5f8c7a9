// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";

/**
 * @title ConsentRegistry
 * @notice Records commitments to borrower consent receipts and their withdrawal, so a partner
 * can check a consent was in force when it used the data.
 * @dev A record takes two storage slots: the commitment, and the times packed in one word
 * (uint40 seconds, uint64 block number). Deliberately not pausable: a borrower's withdrawal
 * must always be recordable; a compromised recorder is handled by revoking its role.
 */
contract ConsentRegistry is IConsentRegistry, AccessControl {
    /// @inheritdoc IConsentRegistry
    bytes32 public constant RECORDER_ROLE = keccak256("RECORDER_ROLE");

    /// @dev Largest accepted time: times are stored as uint40 seconds (year 36812).
    uint64 private constant _MAX_TIME = type(uint40).max;

    /**
     * @dev Storage form of a consent; `commitment == 0` means unknown.
     * @param commitment SHA-256 of the JCS bytes of the consent receipt.
     * @param validFrom First second the consent is valid.
     * @param validUntil First second it is no longer valid; 0 means open-ended.
     * @param revokedAt First second it is withdrawn; 0 means not revoked.
     * @param recordedAt Timestamp of the recording block.
     * @param recordedBlock Number of the recording block.
     */
    struct StoredConsent {
        bytes32 commitment;
        uint40 validFrom;
        uint40 validUntil;
        uint40 revokedAt;
        uint40 recordedAt;
        uint64 recordedBlock;
    }

    /// @dev Every recorded consent by id.
    mapping(bytes32 consentId => StoredConsent) private _consents;

    /**
     * @notice Deploys the registry with `admin` as its only role admin.
     * @dev Requirements: `admin` is not the zero address. The deployer then grants
     * `RECORDER_ROLE` with {AccessControl-grantRole}. Emits {IAccessControl-RoleGranted}.
     * @param admin Account receiving `DEFAULT_ADMIN_ROLE`.
     */
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IConsentRegistry
    function recordConsent(bytes32 consentId, bytes32 commitment, uint64 validFrom, uint64 validUntil)
        external
        onlyRole(RECORDER_ROLE)
    {
        _record(consentId, commitment, validFrom, validUntil);
    }

    /// @inheritdoc IConsentRegistry
    function recordConsents(
        bytes32[] calldata consentIds,
        bytes32[] calldata commitments,
        uint64[] calldata validFroms,
        uint64[] calldata validUntils
    ) external onlyRole(RECORDER_ROLE) {
        uint256 length = consentIds.length;
        if (
            commitments.length != length || validFroms.length != length
                || validUntils.length != length
        ) revert LengthMismatch();
        if (length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < length; ++i) {
            _record(consentIds[i], commitments[i], validFroms[i], validUntils[i]);
        }
    }

    /// @inheritdoc IConsentRegistry
    function revokeConsent(bytes32 consentId, uint64 revokedAt) external onlyRole(RECORDER_ROLE) {
        if (revokedAt == 0) revert ZeroRevocationTime();
        if (revokedAt > _MAX_TIME) revert TimestampOutOfRange(revokedAt);
        StoredConsent storage stored = _consents[consentId];
        if (stored.commitment == bytes32(0)) revert UnknownConsent(consentId);
        if (stored.revokedAt != 0) return;
        stored.revokedAt = uint40(revokedAt);
        emit ConsentRevoked(consentId, revokedAt, _msgSender());
    }

    /// @inheritdoc IConsentRegistry
    function consentStatus(bytes32 consentId) external view returns (ConsentRecord memory) {
        StoredConsent storage stored = _consents[consentId];
        return ConsentRecord({
            commitment: stored.commitment,
            validFrom: stored.validFrom,
            validUntil: stored.validUntil,
            revokedAt: stored.revokedAt,
            recordedAt: stored.recordedAt,
            recordedBlock: stored.recordedBlock
        });
    }

    /// @inheritdoc IConsentRegistry
    function isValidAt(bytes32 consentId, uint64 timestamp) external view returns (bool) {
        StoredConsent storage stored = _consents[consentId];
        if (stored.commitment == bytes32(0)) return false;
        uint64 validUntil = stored.validUntil;
        uint64 revokedAt = stored.revokedAt;
        return stored.validFrom <= timestamp && (validUntil == 0 || timestamp < validUntil)
            && (revokedAt == 0 || timestamp < revokedAt);
    }

    /**
     * @dev Shared body of {recordConsent} and {recordConsents}: validates one item, returns
     * silently on an identical retry, stores a new consent and emits {ConsentRecorded}.
     * @param consentId Identifier of the consent.
     * @param commitment SHA-256 of the JCS bytes of the consent receipt.
     * @param validFrom First second the consent is valid.
     * @param validUntil First second it is no longer valid; 0 means open-ended.
     */
    function _record(bytes32 consentId, bytes32 commitment, uint64 validFrom, uint64 validUntil)
        private
    {
        if (consentId == bytes32(0)) revert ZeroConsentId();
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (validFrom > _MAX_TIME) revert TimestampOutOfRange(validFrom);
        if (validUntil > _MAX_TIME) revert TimestampOutOfRange(validUntil);
        if (validUntil != 0 && validUntil <= validFrom) revert InvalidValidity(validFrom, validUntil);

        StoredConsent storage stored = _consents[consentId];
        bytes32 existing = stored.commitment;
        if (existing != bytes32(0)) {
            if (
                existing == commitment && stored.validFrom == validFrom
                    && stored.validUntil == validUntil
            ) return;
            revert ConsentAlreadyRecorded(consentId);
        }
        _consents[consentId] = StoredConsent({
            commitment: commitment,
            validFrom: uint40(validFrom),
            validUntil: uint40(validUntil),
            revokedAt: 0,
            recordedAt: uint40(block.timestamp),
            recordedBlock: uint64(block.number)
        });
        emit ConsentRecorded(consentId, commitment, validFrom, validUntil, _msgSender());
    }
}
