"""Chain watch DAG with dag.test() on a real anvil chain: payments are seen and statuses move."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow_helpers import requests_for_invoices, run_dag_test_with_tasks

from paybridge.devchain import AnvilNode, deploy_standard_contracts, wait_receipt
from paybridge.store.db import create_engine_for, transaction
from paybridge.store.models import PaymentRequest

pytestmark = pytest.mark.xdist_group("airflow")
INVOICES = """invoice_id,customer_id,amount,currency,chain,asset
W-1,ACME,100.00,USD,anvil,USDC
W-2,ACME,50.00,USD,anvil,USDC
W-3,GLOBEX,300.00,USD,anvil,ETH
"""


def test_chain_watch_dag_detects_payments(
    airflow_env: dict[str, str], anvil: AnvilNode, tmp_path: Path
) -> None:
    w3 = anvil.web3()
    contracts = deploy_standard_contracts(w3)
    payer = w3.eth.accounts[9]
    owner = w3.eth.accounts[0]
    wait_receipt(w3, contracts.usdc.functions.mint(payer, 10**12).transact({"from": owner}))

    env, requests = requests_for_invoices(airflow_env, tmp_path, anvil.url, INVOICES)
    engine = create_engine_for(env["PAYBRIDGE_DATABASE_URL"])
    exact, partial, eth = requests["W-1"], requests["W-2"], requests["W-3"]
    usdc = contracts.usdc.functions
    wait_receipt(
        w3, usdc.transfer(exact.deposit_address, exact.amount_due).transact({"from": payer})
    )
    wait_receipt(
        w3,
        usdc.transfer(partial.deposit_address, partial.amount_due // 2).transact({"from": payer}),
    )
    wait_receipt(
        w3,
        w3.eth.send_transaction(
            {"from": payer, "to": eth.deposit_address, "value": eth.amount_due}
        ),
    )
    w3.provider.make_request("anvil_mine", [hex(3)])

    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_chain_watch.py", env)
    assert state == "success", tasks
    assert tasks["announce_receipts"] == "success"  # receipts arrived: reconcile is started

    with transaction(engine) as session:
        after = {r.invoice_id: r for r in session.scalars(sa.select(PaymentRequest))}
    assert after["W-1"].status in {"detected", "confirmed"}
    assert after["W-1"].amount_received == exact.amount_due and not after["W-1"].paid_partial
    assert after["W-2"].paid_partial and after["W-2"].amount_received == partial.amount_due // 2
    assert after["W-3"].amount_received == eth.amount_due
    # nothing is counted twice when the DAG runs again, and nothing new: no asset event
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_chain_watch.py", env)
    assert state == "success" and tasks["announce_receipts"] == "skipped"
    # no block since the last scan: the deferred wait timed out, the scan did not even run
    assert tasks["watch.wait_for_new_block[0]"] == "skipped"
    assert tasks["watch.watch_chain[0]"] == "skipped"
    assert tasks["expire_lapsed_quotes"] == "success"
    with transaction(engine) as session:
        again = session.get(PaymentRequest, exact.id)
        assert again is not None and again.amount_received == exact.amount_due
