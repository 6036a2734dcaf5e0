"""Receipt states detected -> confirmed -> finalized, by chain tags and by depth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from chainenv import ChainEnv
from paybridge_connectors.chain.rpc import RpcClient, RpcError

from paybridge.config import FinalityPolicy

pytestmark = pytest.mark.anvil
USDC = 10**6


def _state(env: ChainEnv) -> str:
    [receipt] = env.receipts()
    return receipt.state


def test_states_follow_safe_and_finalized_tags(fast_finality_env: ChainEnv) -> None:
    env = fast_finality_env  # --slots-in-an-epoch 1: safe = latest-1, finalized = latest-2
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 100 * USDC)
    watcher = env.watcher()
    watcher.poll()
    assert _state(env) == "detected"
    assert env.request(request.id).status == "detected"

    env.mine(1)
    report = watcher.poll()
    assert _state(env) == "confirmed" and report.state_changes == 1
    stored = env.request(request.id)
    assert (stored.status, stored.amount_confirmed) == ("confirmed", 100 * USDC)

    env.mine(1)
    watcher.poll()
    assert _state(env) == "finalized"
    assert watcher.poll().state_changes == 0  # nothing left to move


def test_states_follow_depth_where_the_chain_has_no_tags(chain_env: ChainEnv) -> None:
    chain_env.finality = FinalityPolicy(
        confirmed="depth", finalized="depth", confirmations=3, finality_depth=6
    )
    request = chain_env.make_request("ETH", 10**18)
    paid = chain_env.pay_eth(request.deposit_address, 10**18)
    watcher = chain_env.watcher()
    seen = []
    for _ in range(7):
        watcher.poll()
        seen.append((chain_env.w3.eth.block_number - paid["blockNumber"], _state(chain_env)))
        chain_env.mine(1)
    assert seen == [
        (0, "detected"),
        (1, "detected"),
        (2, "detected"),
        (3, "confirmed"),
        (4, "confirmed"),
        (5, "confirmed"),
        (6, "finalized"),
    ]


def test_partial_confirmed_amount_keeps_request_detected(fast_finality_env: ChainEnv) -> None:
    env = fast_finality_env
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 60 * USDC)
    env.mine(1)
    env.pay_token(request.deposit_address, 40 * USDC)  # latest block: only detected
    watcher = env.watcher()
    watcher.poll()
    stored = env.request(request.id)
    assert (stored.status, stored.amount_received, stored.amount_confirmed) == (
        "detected",
        100 * USDC,
        60 * USDC,
    )
    env.mine(1)
    watcher.poll()
    assert env.request(request.id).status == "confirmed"


class _NoFinalizedTag(RpcClient):
    """A node that knows ``safe`` but not ``finalized`` (as some L2 and older clients): the
    real anvil, its ``finalized`` answer replaced by the error such a node returns."""

    batches: list[list[Any]]

    def batch_results(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        self.batches = getattr(self, "batches", [])
        self.batches.append([params[0] for _, params in requests_])
        results = super().batch_results(requests_)
        return [
            RpcError(method, -32602, "unknown block tag") if params[0] == "finalized" else r
            for (method, params), r in zip(requests_, results, strict=True)
        ]


def test_head_and_tags_in_one_request_and_an_unknown_tag_falls_back_to_depth(
    fast_finality_env: ChainEnv,
) -> None:
    env = fast_finality_env  # safe = latest-1; finalized by depth 64 here: never reached
    env.finality = FinalityPolicy(
        confirmed="safe", finalized="finalized", confirmations=2, finality_depth=64
    )
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 100 * USDC)
    rpc = _NoFinalizedTag(env.chain_config().rpc_url)
    watcher = env.watcher(rpc=rpc)
    report = watcher.poll()
    assert ["latest", "safe", "finalized"] in rpc.batches  # one request for the three
    assert report.finalized == report.head - 64 and report.safe == report.head - 1
    env.mine(2)
    watcher.poll()
    assert _state(env) == "confirmed"  # safe by tag, not finalized: the depth is not reached
