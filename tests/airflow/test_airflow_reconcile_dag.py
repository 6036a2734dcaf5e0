"""Reconcile DAG with dag.test() after the chain watch DAG, on a real anvil chain."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow_helpers import requests_for_invoices, run_dag_test, run_dag_test_with_tasks

from paybridge.devchain import (
    AnvilNode,
    deploy_standard_contracts,
    wait_receipt,
)
from paybridge.store.db import create_engine_for, transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.outbox import SettlementOutboxRow

pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("airflow")]
INVOICES = """invoice_id,customer_id,amount,currency,chain,asset
R-1,ACME,100.00,USD,anvil,USDC
R-2,ACME,50.00,USD,anvil,USDC
"""


def test_reconcile_dag_settles_paid_requests_once(
    airflow_env: dict[str, str], anvil: AnvilNode, tmp_path: Path
) -> None:
    w3 = anvil.web3()
    contracts = deploy_standard_contracts(w3)
    payer = w3.eth.accounts[7]
    wait_receipt(
        w3, contracts.usdc.functions.mint(payer, 10**12).transact({"from": w3.eth.accounts[0]})
    )
    env, requests = requests_for_invoices(airflow_env, tmp_path, anvil.url, INVOICES)
    engine = create_engine_for(env["PAYBRIDGE_DATABASE_URL"])
    usdc = contracts.usdc.functions
    paid, partial = requests["R-1"], requests["R-2"]
    for request, amount in ((paid, paid.amount_due), (partial, partial.amount_due // 2)):
        wait_receipt(w3, usdc.transfer(request.deposit_address, amount).transact({"from": payer}))
    w3.provider.make_request("anvil_mine", [hex(70)])  # past anvil's finalized depth

    assert run_dag_test(airflow_env, "paybridge_chain_watch.py", env) == "success"
    # the invoices came from a file, not an ERP connection: the settlement is recorded but
    # cannot be posted, so the run is red (like `paybridge reconcile`, exit 1) and nothing is
    # announced to the posting DAG
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_reconcile.py", env)
    assert state == "failed"
    assert tasks["reconcile"] == "success" and tasks["check_postable"] == "failed"
    assert tasks["announce_settlements"] == "skipped"
    # nothing new: green, and still no settlements asset event, so no posting run
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_reconcile.py", env)
    assert state == "success" and tasks["announce_settlements"] == "skipped"

    with transaction(engine) as session:
        queued = session.scalars(sa.select(SettlementOutboxRow.settlement_id)).all()
        after = {r.invoice_id: r.status for r in session.scalars(sa.select(PaymentRequest))}
    assert queued == [f"pb-{paid.id}"]
    assert after["R-1"] == "completed" and after["R-2"] != "completed"
