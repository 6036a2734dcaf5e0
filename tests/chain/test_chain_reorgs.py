"""Reorganisations on a real anvil: no phantom receipt survives, a moved payment is kept once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.chain_sync.watcher import ChainHalted, ReorgBelowFinality
from paybridge.store.models import AuditEntry
from paybridge.store.models.chain import ChainCursor

pytestmark = pytest.mark.anvil
USDC = 10**6


def _rpc(env: ChainEnv, method: str, *params: object) -> object:
    answer = env.w3.provider.make_request(method, list(params))
    assert "error" not in answer, answer
    return answer["result"]


def _audit_actions(env: ChainEnv) -> list[str]:
    with Session(env.engine) as session:
        return list(session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_reorg_that_removes_a_payment_leaves_no_phantom(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    chain_env.mine(1)
    watcher = chain_env.watcher()
    watcher.poll()
    assert len(chain_env.receipts()) == 1
    assert chain_env.request(request.id).status == "detected"

    _rpc(chain_env, "anvil_reorg", 3, [])  # same height, the payment's block replaced empty
    report = watcher.poll()
    assert report.reorgs and report.receipts_removed == 1
    assert chain_env.receipts() == []
    stored = chain_env.request(request.id)
    assert (stored.status, stored.amount_received) == ("new", 0)
    actions = _audit_actions(chain_env)
    assert "reorg" in actions and "status:detected->new" in actions
    with Session(chain_env.engine) as session:
        assert audit.verify(session).ok  # the watcher's entries keep the hash chain intact


def test_rollback_below_the_cursor_removes_the_payment(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("ETH", 10**18)
    chain_env.pay_eth(request.deposit_address, 10**18)
    watcher = chain_env.watcher()
    watcher.poll()
    assert len(chain_env.receipts()) == 1

    _rpc(chain_env, "anvil_rollback", 1)  # the chain is now shorter than our cursor
    report = watcher.poll()
    assert report.receipts_removed == 1 and chain_env.receipts() == []
    chain_env.mine(3)  # the chain grows again without the payment
    watcher.poll()
    assert chain_env.receipts() == []
    assert chain_env.request(request.id).amount_received == 0


def test_payment_moved_to_another_block_is_kept_once(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    paid = chain_env.pay_token(request.deposit_address, 100 * USDC)
    chain_env.mine(2)
    watcher = chain_env.watcher()
    watcher.poll()
    [before] = chain_env.receipts()
    assert before.block_number == paid["blockNumber"]

    original = chain_env.w3.eth.get_transaction(paid["transactionHash"])
    replay = {
        "from": original["from"],
        "to": original["to"],
        "nonce": hex(original["nonce"]),
        "gas": hex(original["gas"]),
        "maxFeePerGas": hex(original["maxFeePerGas"]),
        "maxPriorityFeePerGas": hex(original["maxPriorityFeePerGas"]),
        "value": hex(original["value"]),
        "data": original["input"].to_0x_hex(),
        "chainId": hex(31337),
    }
    _rpc(chain_env, "anvil_reorg", 3, [[replay, 1]])  # same tx, one block later
    report = watcher.poll()
    assert report.reorgs
    [after] = chain_env.receipts()
    assert after.block_number == paid["blockNumber"] + 1
    assert after.block_hash != before.block_hash
    logs = chain_env.w3.eth.get_logs(
        {"fromBlock": 0, "toBlock": "latest", "address": chain_env.contracts.usdc.address}
    )
    moved = [entry for entry in logs if entry["blockNumber"] == after.block_number]
    assert [entry["transactionHash"].to_0x_hex() for entry in moved] == [after.tx_hash]
    assert after.tx_hash == before.tx_hash  # the very same transaction, re-included
    assert after.amount == 100 * USDC
    assert chain_env.request(request.id).amount_received == 100 * USDC


def test_new_blocks_on_a_fork_are_noticed_by_parent_hash(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    watcher = chain_env.watcher()
    watcher.poll()
    _rpc(chain_env, "anvil_reorg", 1, [])
    chain_env.mine(5)  # the fork is now longer; our tip's height holds another block
    watcher.poll()
    assert chain_env.receipts() == []
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    watcher.poll()
    assert len(chain_env.receipts()) == 1


def test_reorg_below_finality_raises_alarm_and_halts_the_chain(
    fast_finality_env: ChainEnv,
) -> None:
    env = fast_finality_env
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 100 * USDC)
    env.mine(4)
    watcher = env.watcher()
    watcher.poll()
    [receipt] = env.receipts()
    assert receipt.state == "finalized"

    _rpc(env, "anvil_reorg", 5, [])  # anvil allows it; PayBridge must not follow
    with pytest.raises(ReorgBelowFinality, match="reorg below finality"):
        watcher.poll()
    with pytest.raises(ChainHalted, match="halted"):
        env.watcher().poll()
    assert len(env.receipts()) == 1  # nothing silently deleted
    with Session(env.engine) as session:
        cursor = session.get(ChainCursor, 31337)
        assert cursor is not None and "reorg below finality" in (cursor.halted_reason or "")
    assert "alarm:reorg_below_finality" in _audit_actions(env)
