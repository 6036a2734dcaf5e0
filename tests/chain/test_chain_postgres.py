"""The watcher on PostgreSQL: same behaviour, and two watchers of one chain never double-record."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from chainenv import ChainEnv
from paybridge_connectors.chain.scanner import ChainMovedDuringScan
from sqlalchemy.engine import Engine
from web3 import Web3

from paybridge.devchain import AnvilNode, DevContracts
from paybridge.store.db import create_engine_for, migrate

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]
USDC = 10**6


@pytest.fixture
def pg_env(
    anvil: AnvilNode, w3: Web3, contracts: DevContracts, postgres_url: str
) -> Iterator[ChainEnv]:
    engine: Engine = create_engine_for(postgres_url)
    migrate(engine)
    env = ChainEnv(node=anvil, w3=w3, contracts=contracts, engine=engine)
    env.fund_tokens(env.accounts[1])
    yield env
    engine.dispose()


def test_payment_and_reorg_on_postgres(pg_env: ChainEnv) -> None:
    request = pg_env.make_request("USDC", 2**255)  # base units far beyond int64
    pg_env.fund_tokens(pg_env.accounts[1], usdc=10**31)
    pg_env.pay_token(request.deposit_address, 10**30 + 1, token="USDC")
    watcher = pg_env.watcher()
    watcher.poll()
    [receipt] = pg_env.receipts()
    assert receipt.amount == 10**30 + 1
    stored = pg_env.request(request.id)
    assert (stored.amount_received, stored.paid_partial) == (10**30 + 1, True)
    pg_env.w3.provider.make_request("anvil_reorg", [1, []])
    watcher.poll()
    assert pg_env.receipts() == []
    assert pg_env.request(request.id).status == "new"


def test_two_watchers_of_one_chain_record_each_transfer_once(pg_env: ChainEnv) -> None:
    requests = [pg_env.make_request("USDC", 10 * USDC) for _ in range(5)]
    for i, request in enumerate(requests):
        pg_env.pay_token(request.deposit_address, (i + 1) * USDC)
        pg_env.mine(3)
    pg_env.max_block_range = 2
    errors: list[BaseException] = []

    def run() -> None:
        try:
            watcher = pg_env.watcher()
            for _ in range(20):
                try:
                    watcher.poll()
                    return
                except ChainMovedDuringScan:
                    continue  # the other worker advanced the cursor first
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    amounts = sorted(r.amount for r in pg_env.receipts())
    assert amounts == [(i + 1) * USDC for i in range(5)]
    assert sum(pg_env.request(r.id).amount_received for r in requests) == 15 * USDC
