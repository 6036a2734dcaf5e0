"""Payments into deposit addresses on a real anvil chain, detected by the watcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv, fresh_address
from sqlalchemy.orm import Session

from paybridge.devchain import wait_receipt
from paybridge.store.models import AuditEntry
from paybridge.store.models.chain import ChainCursor

pytestmark = pytest.mark.anvil
USDC = 10**6


def test_erc20_exact_payment_is_detected_then_confirmed(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    tx = chain_env.pay_token(request.deposit_address, 100 * USDC)
    report = chain_env.watcher().poll()
    assert report.receipts_added == 1

    [receipt] = chain_env.receipts()
    assert receipt.tx_hash == tx["transactionHash"].to_0x_hex()
    assert (receipt.kind, receipt.direction, receipt.asset_symbol) == ("erc20", "in", "USDC")
    assert receipt.amount == 100 * USDC
    assert receipt.event_key == f"log:{tx['logs'][0]['logIndex']}"
    assert receipt.payment_request_id == request.id
    assert receipt.state == "detected"
    assert receipt.block_number == tx["blockNumber"]
    stored = chain_env.request(request.id)
    assert (stored.status, stored.amount_received, stored.amount_confirmed) == (
        "detected",
        100 * USDC,
        0,
    )
    assert not (stored.paid_partial or stored.paid_over or stored.paid_late)

    chain_env.mine(64)  # anvil: safe = latest-32, finalized = latest-64
    chain_env.watcher().poll()
    [receipt] = chain_env.receipts()
    assert receipt.state == "finalized"
    stored = chain_env.request(request.id)
    assert (stored.status, stored.amount_confirmed) == ("confirmed", 100 * USDC)
    with Session(chain_env.engine) as session:
        entries = session.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_id == request.id).order_by(AuditEntry.seq)
        ).all()
    assert [e.action for e in entries] == ["status:new->detected", "status:detected->confirmed"]
    assert all(e.actor == "chain-watcher" for e in entries)


def test_partial_payment_in_two_transfers_completes(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 40 * USDC)
    watcher = chain_env.watcher()
    watcher.poll()
    first = chain_env.request(request.id)
    assert (first.status, first.amount_received, first.paid_partial) == (
        "detected",
        40 * USDC,
        True,
    )

    chain_env.pay_token(request.deposit_address, 60 * USDC)
    watcher.poll()
    second = chain_env.request(request.id)
    assert (second.amount_received, second.paid_partial, second.paid_over) == (
        100 * USDC,
        False,
        False,
    )
    assert [r.amount for r in chain_env.receipts()] == [40 * USDC, 60 * USDC]


def test_overpayment_is_flagged(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 100 * USDC + 1)
    chain_env.watcher().poll()
    stored = chain_env.request(request.id)
    assert (stored.amount_received, stored.paid_over, stored.paid_partial) == (
        100 * USDC + 1,
        True,
        False,
    )


def test_late_payment_after_quote_expiry_is_flagged(chain_env: ChainEnv) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    request = chain_env.make_request("USDC", 100 * USDC, quote_expires_at=past)
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    chain_env.watcher().poll()
    stored = chain_env.request(request.id)
    assert (stored.status, stored.paid_late) == ("detected", True)


def test_payment_to_unknown_address_is_not_recorded(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(fresh_address("somebody-else"), 100 * USDC)
    chain_env.pay_eth(fresh_address("somebody-else"), 10**18)
    report = chain_env.watcher().poll()
    assert report.receipts_added == 0
    assert chain_env.receipts() == []
    assert chain_env.request(request.id).status == "new"


def test_address_past_its_monitoring_window_is_not_watched(chain_env: ChainEnv) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    request = chain_env.make_request("USDC", 100 * USDC, quote_expires_at=past, monitor_until=past)
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    assert chain_env.watcher().poll().receipts_added == 0


def test_wrong_token_is_recorded_but_does_not_pay(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 100 * 10**18, token="DAI")
    chain_env.watcher().poll()
    [receipt] = chain_env.receipts()
    assert (receipt.asset_symbol, receipt.amount, receipt.payment_request_id) == (
        "DAI",
        100 * 10**18,
        request.id,
    )
    stored = chain_env.request(request.id)
    assert (stored.status, stored.amount_received) == ("new", 0)


def test_eth_direct_payment(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("ETH", 5 * 10**17)
    tx = chain_env.pay_eth(request.deposit_address, 5 * 10**17)
    chain_env.watcher().poll()
    [receipt] = chain_env.receipts()
    assert (receipt.kind, receipt.event_key, receipt.asset_address) == ("native", "tx", None)
    assert receipt.amount == 5 * 10**17
    assert receipt.tx_hash == tx["transactionHash"].to_0x_hex()
    assert chain_env.request(request.id).amount_received == 5 * 10**17


def test_eth_paid_from_a_contract_is_found_in_traces(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("ETH", 10**18)
    payer, sender = chain_env.contracts.payer, chain_env.accounts[2]
    tx = payer.functions.pay(request.deposit_address, 10**18).transact(
        {"from": sender, "value": 10**18}
    )
    wait_receipt(chain_env.w3, tx)
    chain_env.watcher().poll()
    [receipt] = chain_env.receipts()
    assert (receipt.kind, receipt.event_key, receipt.trace_address) == ("internal", "trace:0", "0")
    assert receipt.from_address == payer.address.lower()
    assert receipt.amount == 10**18
    assert chain_env.request(request.id).amount_received == 10**18


def test_internal_payment_is_invisible_without_traces(chain_env: ChainEnv) -> None:
    chain_env.traces_enabled = False
    request = chain_env.make_request("ETH", 10**18)
    payer = chain_env.contracts.payer
    tx = payer.functions.pay(request.deposit_address, 10**18).transact(
        {"from": chain_env.accounts[2], "value": 10**18}
    )
    wait_receipt(chain_env.w3, tx)
    assert chain_env.watcher().poll().receipts_added == 0


def test_reverted_transfers_are_not_credited(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("ETH", 10**18)
    payer, sender = chain_env.contracts.payer, chain_env.accounts[2]
    # a top-level ETH payment that reverts: value sent to a contract that refuses it
    deposit_token = chain_env.contracts.usdc.address  # ERC-20 without receive(): reverts
    tx = chain_env.w3.eth.send_transaction(
        {"from": sender, "to": deposit_token, "value": 10**18, "gas": 100_000}
    )
    assert wait_receipt(chain_env.w3, tx, require_success=False)["status"] == 0
    # an internal payment inside a call that reverts afterwards
    tx = payer.functions.payThenRevert(request.deposit_address, 10**18).transact(
        {"from": sender, "value": 10**18, "gas": 200_000}
    )
    assert wait_receipt(chain_env.w3, tx, require_success=False)["status"] == 0
    chain_env.extra["watch"] = deposit_token
    report = chain_env.watcher(extra_watched=[deposit_token]).poll()
    assert report.receipts_added == 0
    assert chain_env.request(request.id).status == "new"


def test_several_transfer_logs_in_one_transaction(chain_env: ChainEnv) -> None:
    requests = [chain_env.make_request("USDC", 10 * USDC) for _ in range(3)]
    payer = chain_env.contracts.payer
    chain_env.pay_token(payer.address, 100 * USDC)
    addresses = [r.deposit_address for r in requests] + [fresh_address("not-ours")]
    amounts = [10 * USDC, 10 * USDC, 7 * USDC, 1 * USDC]
    tx = payer.functions.payTokenBatch(
        chain_env.contracts.usdc.address, addresses, amounts
    ).transact({"from": chain_env.accounts[2]})
    wait_receipt(chain_env.w3, tx)
    eth_tx = payer.functions.payBatch(addresses[:2], [1, 2]).transact(
        {"from": chain_env.accounts[2], "value": 3}
    )
    wait_receipt(chain_env.w3, eth_tx)
    chain_env.watcher().poll()
    usdc = chain_env.receipts(asset_symbol="USDC", kind="erc20", tx_hash=tx.to_0x_hex())
    assert len({r.event_key for r in usdc}) == 3
    assert sorted(r.amount for r in usdc) == [7 * USDC, 10 * USDC, 10 * USDC]
    internal = chain_env.receipts(kind="internal")
    assert sorted((r.trace_address, r.amount) for r in internal) == [("0", 1), ("1", 2)]
    assert [chain_env.request(r.id).paid_partial for r in requests] == [False, False, True]


def test_outflow_from_watched_address_is_recorded_as_out(chain_env: ChainEnv) -> None:
    sweeper = chain_env.accounts[3]
    chain_env.pay_token(sweeper, 50 * USDC)
    treasury = fresh_address("treasury")
    chain_env.pay_token(treasury, 20 * USDC, sender=sweeper)
    chain_env.watcher(extra_watched=[sweeper]).poll()
    directions = sorted((r.direction, r.amount) for r in chain_env.receipts())
    assert directions == [("in", 50 * USDC), ("out", 20 * USDC)]


def test_rescanning_never_duplicates_receipts(chain_env: ChainEnv) -> None:
    request = chain_env.make_request("USDC", 100 * USDC)
    chain_env.pay_token(request.deposit_address, 100 * USDC)
    chain_env.watcher().poll()
    assert len(chain_env.receipts()) == 1
    # a second watcher forced to start again at block 0 sees the same transfer again
    with Session(chain_env.engine) as session, session.begin():
        cursor = session.get(ChainCursor, 31337)
        assert cursor is not None
        cursor.next_block = 0
    report = chain_env.watcher().poll()
    assert report.blocks_scanned > 0 and report.receipts_added == 0
    assert len(chain_env.receipts()) == 1
    assert chain_env.request(request.id).amount_received == 100 * USDC
