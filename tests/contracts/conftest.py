"""Fixtures for the contract tests: the deployed registries as web3 contracts."""

from __future__ import annotations

import pytest
from web3.contract import Contract

from ledger.chain import Chain, Deployment


@pytest.fixture
def anchor_registry(deployed: tuple[Chain, Deployment]) -> Contract:
    chain, deployment = deployed
    return chain.contract("AnchorRegistry", deployment.anchor_registry)


@pytest.fixture
def consent_registry(deployed: tuple[Chain, Deployment]) -> Contract:
    chain, deployment = deployed
    return chain.contract("ConsentRegistry", deployment.consent_registry)


@pytest.fixture
def chain(deployed: tuple[Chain, Deployment]) -> Chain:
    """The deploying chain: holds every role on both registries."""
    return deployed[0]
