"""ERP DAGs with dag.test() against the NetSuite simulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow_helpers import run_dag_test

from paybridge import settlement_outbox
from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.store.db import create_engine_for, migrate, transaction
from paybridge.store.models import PaymentRequest
from simulators.netsuite import SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator

pytestmark = pytest.mark.xdist_group("airflow")
ACCOUNTS = SEEDED_SETTLEMENT_ACCOUNTS


@pytest.fixture
def sim() -> Iterator[NetSuiteSimulator]:
    with NetSuiteSimulator() as simulator:
        yield simulator


@pytest.fixture
def dag_env(sim: NetSuiteSimulator, tmp_path: Path) -> dict[str, str]:
    connection = sim.airflow_connection(ACCOUNTS, payment_chain="anvil", payment_asset="USDC")
    return {
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'paybridge.db'}",
        "AIRFLOW_CONN_NETSUITE_DEFAULT": json.dumps(connection),
    }


def test_erp_sync_dag_turns_netsuite_invoices_into_requests(
    airflow_env: dict[str, str], dag_env: dict[str, str], sim: NetSuiteSimulator
) -> None:
    sim.seed_invoices(5)
    assert run_dag_test(airflow_env, "paybridge_erp_sync.py", dag_env) == "success"
    engine = create_engine_for(dag_env["PAYBRIDGE_DATABASE_URL"])
    with transaction(engine) as session:
        requests = session.scalars(sa.select(PaymentRequest)).all()
    assert len(requests) == 5
    assert {r.erp_system for r in requests} == {"netsuite"}
    assert {r.chain_id for r in requests} == {31337}
    # retried or re-scheduled, the DAG finds nothing new
    assert run_dag_test(airflow_env, "paybridge_erp_sync.py", dag_env) == "success"
    with transaction(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PaymentRequest)) == 5


def test_posting_dag_pays_the_invoice_once(
    airflow_env: dict[str, str], dag_env: dict[str, str], sim: NetSuiteSimulator
) -> None:
    [invoice_id] = sim.seed_invoices(1, amount=Decimal("250.00"))
    engine = create_engine_for(dag_env["PAYBRIDGE_DATABASE_URL"])
    migrate(engine)
    invoice = sim.account.transactions[invoice_id]
    settlement = Settlement(
        settlement_id="pb-dag-1",
        erp_system="netsuite",
        company=str(invoice["subsidiary"]),
        customer_id=str(invoice["entity"]),
        currency="USD",
        applications=(Application(str(invoice_id), Decimal("250.00")),),
        payment_amount=Decimal("250.00"),
        journal_lines=(
            JournalLine(
                "digital_asset",
                debit=Decimal("250.00"),
                memo="USDC at fair value",
                account_key="financial_instrument",
            ),
            JournalLine("crypto_clearing", credit=Decimal("250.00"), memo="clear"),
        ),
        evidence=Evidence(31337, ("0x" + "ab" * 32,), "1", "fixed"),
        ar_account="119",
    )
    with transaction(engine) as session:
        settlement_outbox.enqueue(session, settlement, "netsuite_default")
    assert run_dag_test(airflow_env, "paybridge_post_settlements.py", dag_env) == "success"
    assert run_dag_test(airflow_env, "paybridge_post_settlements.py", dag_env) == "success"
    assert {k: len(v) for k, v in sim.account.payments_by_external_id().items()} == {"pb-dag-1": 1}
    assert sim.account.get_record("invoice", str(invoice_id))["status"]["refName"] == (
        "Paid In Full"
    )
    assert settlement_outbox.status_counts(engine) == {"posted": 1}


def test_erp_dags_sync_and_post_sap_beside_netsuite(
    airflow_env: dict[str, str], dag_env: dict[str, str], sim: NetSuiteSimulator
) -> None:
    """One deployment, two ERPs: the Connection's type picks the connector (SAP S/4HANA here)."""
    from paybridge.store.models.outbox import ErpOpenInvoice, SettlementOutboxRow
    from simulators.sap import SETTLEMENT_ACCOUNTS, SAPSimulator

    sim.seed_invoices(2)
    with SAPSimulator(clearing_delay_s=0.05) as sap:
        key = sap.seed_open_item(
            "1710", "17100001", Decimal("300.00"), "USD", reference="9000042", assignment="9000042"
        )
        sap_connection = sap.airflow_connection(
            "1710",
            accounts={"1710": SETTLEMENT_ACCOUNTS},
            payment_chain="anvil",
            payment_asset="USDC",
            clearing_check_interval_s=0.05,
        )
        env = {
            **dag_env,
            "AIRFLOW_CONN_SAP_S4_DEFAULT": json.dumps(sap_connection),
            "AIRFLOW_VAR_PAYBRIDGE_ERP_CONNECTIONS": '["netsuite_default", "sap_s4_default"]',
        }
        assert run_dag_test(airflow_env, "paybridge_erp_sync.py", env) == "success"
        engine = create_engine_for(dag_env["PAYBRIDGE_DATABASE_URL"])
        with transaction(engine) as session:
            systems = sorted(r.erp_system for r in session.scalars(sa.select(PaymentRequest)))
            [synced] = session.scalars(
                sa.select(ErpOpenInvoice).where(ErpOpenInvoice.connection == "sap_s4_default")
            ).all()
            request = session.scalar(
                sa.select(PaymentRequest).where(PaymentRequest.invoice_id == synced.invoice_id)
            )
            assert request is not None
        assert systems == ["netsuite", "netsuite", "sap"]
        settlement = Settlement(
            settlement_id="pb-dag-sap-1",
            erp_system="sap",
            company=synced.company,
            customer_id=synced.customer_id,
            currency="USD",
            applications=(Application(synced.invoice_id, Decimal("300.00")),),
            payment_amount=Decimal("300.00"),
            journal_lines=(
                JournalLine(
                    "digital_asset", debit=Decimal("300.00"), account_key="financial_instrument"
                ),
                JournalLine("crypto_clearing", credit=Decimal("300.00")),
            ),
            evidence=Evidence(31337, ("0x" + "cd" * 32,), "1", "fixed"),
        )
        with transaction(engine) as session:
            settlement_outbox.enqueue(session, settlement, "sap_s4_default")
        posting = {**env, "AIRFLOW_VAR_PAYBRIDGE_ERP_CONNECTIONS": '["sap_s4_default"]'}
        assert run_dag_test(airflow_env, "paybridge_post_settlements.py", posting) == "success"
        assert not sap.ledger.item_open(key)  # cleared in SAP, confirmed by the connector
        with transaction(engine) as session:
            row = session.get(SettlementOutboxRow, "pb-dag-sap-1")
            assert row is not None and row.status == "posted"
