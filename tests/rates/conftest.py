"""Rate-source fixtures: a real anvil with MockV3Aggregator feeds deployed."""

from __future__ import annotations

import pytest
from web3 import Web3

from paybridge.devchain import AnvilNode


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return anvil.web3()
