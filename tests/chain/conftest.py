"""Chain-watcher fixtures: a real anvil per test (~0.2 s) with the test contracts deployed,
a migrated SQLite store, and helpers that pay like customers do (EOA, contract, batch)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chainenv import ChainEnv
from sqlalchemy.engine import Engine
from web3 import Web3

from paybridge.devchain import AnvilNode, DevContracts, deploy_standard_contracts, start_anvil


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return anvil.web3()


@pytest.fixture
def contracts(w3: Web3) -> DevContracts:
    return deploy_standard_contracts(w3)


@pytest.fixture
def engine(sqlite_store: Engine) -> Engine:
    return sqlite_store


@pytest.fixture
def chain_env(anvil: AnvilNode, w3: Web3, contracts: DevContracts, engine: Engine) -> ChainEnv:
    env = ChainEnv(node=anvil, w3=w3, contracts=contracts, engine=engine)
    env.fund_tokens(env.accounts[1])
    return env


@pytest.fixture
def fast_finality_env(engine: Engine) -> Iterator[ChainEnv]:
    """anvil with --slots-in-an-epoch 1: safe = latest-1, finalized = latest-2."""
    node = start_anvil(slots_in_an_epoch=1)
    w3 = node.web3()
    env = ChainEnv(node=node, w3=w3, contracts=deploy_standard_contracts(w3), engine=engine)
    env.fund_tokens(env.accounts[1])
    yield env
    node.stop()
