"""Rate-source fixtures: a real anvil with MockV3Aggregator feeds deployed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from paybridge.devchain import AnvilNode, start_anvil


@pytest.fixture
def anvil_node() -> Iterator[AnvilNode]:
    node = start_anvil()
    yield node
    node.stop()


@pytest.fixture
def w3(anvil_node: AnvilNode) -> Web3:
    return anvil_node.web3()
