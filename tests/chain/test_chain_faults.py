"""A misbehaving provider (range limits, timeouts, empty answers at the head, restarts):
the watcher shrinks, retries, resumes, and misses nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from chain_rpc_proxy import Faults, RpcProxy
from chainenv import ChainEnv
from paybridge_connectors.chain.rpc import RpcClient, RpcUnavailable

from paybridge.devchain import start_anvil, wait_receipt

pytestmark = pytest.mark.anvil
USDC = 10**6


@pytest.fixture
def proxy(chain_env: ChainEnv) -> Iterator[RpcProxy]:
    server = RpcProxy(chain_env.node.url).start()
    chain_env.rpc_url = server.url
    yield server
    server.stop()


def _pay_spread(env: ChainEnv, count: int, gap: int) -> list[tuple[str, int]]:
    """``count`` requests, each paid in its own block with ``gap`` empty blocks between."""
    expected = []
    for i in range(count):
        request = env.make_request("USDC", 10 * USDC)
        env.pay_token(request.deposit_address, (i + 1) * USDC)
        expected.append((request.id, (i + 1) * USDC))
        env.mine(gap)
    return expected


def _received(env: ChainEnv) -> list[tuple[str, int]]:
    return sorted((r.payment_request_id or "", r.amount) for r in env.receipts())


def test_range_limit_errors_shrink_the_range_and_miss_nothing(
    chain_env: ChainEnv, proxy: RpcProxy
) -> None:
    expected = _pay_spread(chain_env, 12, gap=3)
    proxy.faults = Faults(max_log_range=5)
    chain_env.max_block_range = 64
    report = chain_env.watcher().poll()
    assert proxy.stats.range_errors > 0
    assert all(end - start + 1 <= 64 for start, end in proxy.stats.log_ranges)
    assert proxy.stats.range_errors <= 4  # 64 -> 32 -> 16 -> 8 -> 4, then never above 4
    assert _received(chain_env) == sorted(expected)
    assert report.scanned_to == chain_env.w3.eth.block_number
    covered = sorted(r for r in proxy.stats.log_ranges if r[1] - r[0] + 1 <= 5)
    assert covered[0][0] == 0 and all(b[0] == a[1] + 1 for a, b in itertools.pairwise(covered))


def test_suggested_range_in_the_error_is_used(chain_env: ChainEnv, proxy: RpcProxy) -> None:
    _pay_spread(chain_env, 2, gap=10)
    proxy.faults = Faults(
        max_log_range=7, range_messages=("Try with this block range [0x0, 0x6].",)
    )
    chain_env.watcher().poll()
    assert proxy.stats.log_ranges[1] == (0, 6)  # straight to the provider's suggestion


def test_timeouts_are_retried(chain_env: ChainEnv, proxy: RpcProxy) -> None:
    expected = _pay_spread(chain_env, 3, gap=1)
    proxy.faults = Faults(slow_calls=2, slow_seconds=1.0)
    rpc = RpcClient(proxy.url, timeout=0.4, backoff=0.05)
    chain_env.watcher(rpc=rpc).poll()
    assert proxy.stats.slow_answers == 2
    assert _received(chain_env) == sorted(expected)


def test_empty_answer_at_the_head_is_asked_again(chain_env: ChainEnv, proxy: RpcProxy) -> None:
    request = chain_env.make_request("USDC", 10 * USDC)
    chain_env.pay_token(request.deposit_address, 10 * USDC)
    proxy.faults = Faults(empty_head_logs=1, empty_hash_logs=1)
    chain_env.watcher().poll()
    assert proxy.stats.empty_answers == 2
    assert _received(chain_env) == [(request.id, 10 * USDC)]


def test_killed_at_any_point_resumes_without_loss_or_duplicate(
    chain_env: ChainEnv, proxy: RpcProxy
) -> None:
    expected = _pay_spread(chain_env, 8, gap=2)
    chain_env.max_block_range = 4
    crashes = 0
    for fail_after in (3, 5, 8, 13, 21, 34, None):
        proxy.faults = Faults(
            fail_after_calls=None
            if fail_after is None
            else sum(proxy.stats.calls.values()) + fail_after
        )
        rpc = RpcClient(proxy.url, timeout=2, attempts=1)
        try:
            chain_env.watcher(rpc=rpc).poll()  # a fresh watcher each time: a restarted process
        except RpcUnavailable:
            crashes += 1
    assert crashes >= 5
    assert _received(chain_env) == sorted(expected)
    assert chain_env.watcher().poll().receipts_added == 0


def test_anvil_restart_resumes_from_the_cursor(chain_env: ChainEnv, tmp_path) -> None:
    state = tmp_path / "anvil-state.json"
    chain_env.node.stop()
    node = start_anvil(extra_args=["--state", str(state)])
    try:
        from paybridge.devchain import deploy_standard_contracts

        chain_env.node, chain_env.w3 = node, node.web3()
        chain_env.contracts = deploy_standard_contracts(chain_env.w3)
        chain_env.fund_tokens(chain_env.accounts[1])
        first = chain_env.make_request("USDC", 10 * USDC)
        chain_env.pay_token(first.deposit_address, 10 * USDC)
        watcher = chain_env.watcher(rpc=RpcClient(node.url, timeout=1, attempts=2, backoff=0.05))
        watcher.poll()

        node.stop()  # the RPC goes away
        with pytest.raises(RpcUnavailable):
            watcher.poll()
        node = start_anvil(port=node.port, extra_args=["--state", str(state)])
        chain_env.node, chain_env.w3 = node, node.web3()
        second = chain_env.make_request("USDC", 10 * USDC)
        tx = chain_env.contracts.usdc.functions.transfer(second.deposit_address, 7 * USDC)
        wait_receipt(chain_env.w3, tx.transact({"from": chain_env.accounts[1]}))
        report = watcher.poll()
        assert report.receipts_added == 1 and not report.reorgs
        assert _received(chain_env) == sorted([(first.id, 10 * USDC), (second.id, 7 * USDC)])
    finally:
        node.stop()


def test_bloom_false_positive_does_not_stall_the_scan(chain_env: ChainEnv) -> None:
    """USDC Approval + DAI Transfer in one block: the bloom matches "USDC Transfer" though none
    happened; the block is asked again by hash a bounded number of times, then accepted."""
    request = chain_env.make_request("DAI", 5 * 10**18)
    provider, sender = chain_env.w3.provider, chain_env.accounts[1]
    provider.make_request("evm_setAutomine", [False])
    chain_env.contracts.usdc.functions.approve(chain_env.accounts[4], 1).transact({"from": sender})
    chain_env.contracts.token18.functions.transfer(request.deposit_address, 5 * 10**18).transact(
        {"from": sender}
    )
    provider.make_request("evm_mine", [])
    provider.make_request("evm_setAutomine", [True])
    block = chain_env.w3.eth.get_block("latest")
    assert len(block["transactions"]) == 2

    rpc = RpcClient(chain_env.node.url, timeout=5)
    report = chain_env.watcher(rpc=rpc).poll()
    assert report.scanned_to == block["number"]
    assert [(r.asset_symbol, r.amount) for r in chain_env.receipts()] == [("DAI", 5 * 10**18)]
    assert rpc.calls["eth_getLogs"] == 1 + 3  # the range, then 3 asks by block hash
