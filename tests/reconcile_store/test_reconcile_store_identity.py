"""One identity per transfer, end to end (issue 8): several transfers of one transaction
(internal calls, top-level value, token log) reach different requests on anvil, and each is
recorded, applied, completed and settled exactly once through watcher -> reconcile -> settle."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from recon_store_helpers import USDC, bill_from_erp, netsuite_config, paybridge_config, payer
from sqlalchemy.orm import Session
from web3 import Web3

from paybridge import settlement_outbox
from paybridge.devchain import deploy, wait_receipt
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.reconciliation import ReconException, ReconMatch
from simulators.netsuite import NetSuiteSimulator

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
ETH = 10**18
Pay = Callable[[ChainEnv, list[PaymentRequest]], None]


def _internal_to_both(env: ChainEnv, requests: list[PaymentRequest]) -> None:
    """A batch withdrawal: one contract call sends ETH internally to both deposits."""
    a, b = requests
    tx = env.contracts.payer.functions.payBatch(
        [a.deposit_address, b.deposit_address], [a.amount_due, b.amount_due]
    ).transact({"from": payer(env), "value": a.amount_due + b.amount_due})
    wait_receipt(env.w3, tx)


def _top_level_plus_internal(env: ChainEnv, requests: list[PaymentRequest]) -> None:
    """Deposit A runs code (a smart account) that, on receiving, pays B from what it already
    holds: one transaction, a top-level value to A (``tx``) and an internal transfer A -> B
    (``trace:0``)."""
    a, b = requests
    forwarder = deploy(env.w3, "ForwardOnReceive", b.deposit_address, b.amount_due)
    code = env.w3.eth.get_code(forwarder.address)
    env.w3.provider.make_request("anvil_setCode", [a.deposit_address, Web3.to_hex(code)])
    env.w3.provider.make_request("anvil_setBalance", [a.deposit_address, hex(b.amount_due)])
    env.pay_eth(a.deposit_address, a.amount_due, sender=payer(env))


def _token_log_plus_internal(env: ChainEnv, requests: list[PaymentRequest]) -> None:
    """One call pays USDC to A (a Transfer log) and ETH to B (an internal call)."""
    a, b = requests
    env.fund_tokens(env.contracts.payer.address)
    tx = env.contracts.payer.functions.payTokenAndEth(
        env.contracts.usdc.address, a.deposit_address, a.amount_due, b.deposit_address
    ).transact({"from": payer(env), "value": b.amount_due})
    wait_receipt(env.w3, tx)


CASES = {
    "two_internal": (("ETH", "ETH"), _internal_to_both, {"trace:0", "trace:1"}),
    "top_level_and_internal": (("ETH", "ETH"), _top_level_plus_internal, {"tx", "trace:0"}),
    "token_log_and_internal": (("USDC", "ETH"), _token_log_plus_internal, {"log:0", "trace:1"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_transfer_of_one_transaction_is_applied_and_settled_once(
    env: ChainEnv, sim: NetSuiteSimulator, case: str
) -> None:
    assets, pay, event_keys = CASES[case]
    customer = sim.account.add_customer("ACME")
    dues = {"ETH": [ETH // 10, ETH // 5], "USDC": [100 * USDC, 100 * USDC]}
    requests = []
    for i, asset in enumerate(assets):
        request = env.make_request(asset, dues[asset][i])
        bill_from_erp(env, request.id, sim, sim.account.add_invoice(customer, Decimal("100.00")))
        requests.append(request)
    pay(env, requests)
    env.mine(64)
    env.watcher().poll()

    incoming = env.receipts(direction="in")
    assert len({r.tx_hash for r in incoming}) == 1
    assert {r.event_key for r in incoming} == event_keys
    cfg = paybridge_config(env)
    first = reconcile_store(env.engine, cfg)
    ids = sorted(r.id for r in requests)
    assert sorted(first.completed) == ids
    assert sorted(first.settlements_enqueued) == [f"pb-{i}" for i in ids]
    with Session(env.engine) as session:
        matches = session.scalars(sa.select(ReconMatch)).all()
        applied = {(m.tx_hash, m.event_key): (m.request_id, m.amount_applied) for m in matches}
        exceptions = session.scalars(sa.select(ReconException)).all()
        statuses = {r.id: r.status for r in session.scalars(sa.select(PaymentRequest))}
        receipts = session.scalars(
            sa.select(ChainReceipt).where(ChainReceipt.direction == "in")
        ).all()
    assert applied == {(r.tx_hash, r.event_key): (r.payment_request_id, r.amount) for r in receipts}
    assert [(e.reason, e.amount) for e in exceptions] == []
    assert statuses == dict.fromkeys(ids, "completed")

    with NetSuiteConnector(netsuite_config(sim)) as connector:
        posted = settlement_outbox.post_due(env.engine, connector)
        assert sorted(posted.posted) == [f"pb-{i}" for i in ids]
        again = reconcile_store(env.engine, cfg)
        assert again.completed == [] and again.settlements_enqueued == []
        assert settlement_outbox.post_due(env.engine, connector).posted == []
