"""Helpers of the reconcile-store tests (a uniquely named module, so that running several
test areas together never confuses it with another area's ``conftest``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chain"))

from chainenv import ChainEnv
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

from paybridge.config import PayBridgeConfig, SettlementPolicy
from paybridge.devchain import AnvilNode, deploy_standard_contracts
from paybridge.erp_sync import sync_open_invoices
from paybridge.store.models import Invoice, PaymentRequest
from paybridge.store.models.outbox import ErpSyncState
from simulators.netsuite import DEFAULT_GRANT, SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator

PAYER_INDEX = 5
USDC = 10**6
ACCOUNTS = SEEDED_SETTLEMENT_ACCOUNTS


ERP_CONNECTION = "test"


def bill_through_erp(session: Session, request: PaymentRequest, connection: str) -> None:
    """Record the request's invoice as synced from ERP ``connection`` (and that connection as
    configured), as ``paybridge erp sync`` does: only such settlements are queued for posting."""
    now = datetime.now(UTC)
    if session.get(ErpSyncState, connection) is None:
        session.add(
            ErpSyncState(
                connection=connection, erp_system=request.erp_system, watermark=None, updated_at=now
            )
        )
    invoice = session.scalar(
        sa.select(Invoice).where(
            Invoice.erp_system == request.erp_system,
            Invoice.company == request.company,
            Invoice.invoice_id == request.invoice_id,
        )
    )
    if invoice is None:
        invoice = Invoice(
            erp_system=request.erp_system,
            company=request.company,
            invoice_id=request.invoice_id,
            customer_id=request.customer_id,
            amount=request.invoice_amount,
            currency=request.currency,
            due_date=None,
            chain="anvil",
            asset_symbol=request.asset_symbol,
            imported_at=now,
            source="",
        )
        session.add(invoice)
    invoice.source = f"erp:{connection}"


class ErpChainEnv(ChainEnv):
    """Requests whose invoices came from the ERP connection ``test`` (settled to it)."""

    def make_request(self, *args: Any, **kwargs: Any) -> PaymentRequest:
        request = super().make_request(*args, **kwargs)
        with Session(self.engine) as session, session.begin():
            bill_through_erp(session, request, ERP_CONNECTION)
        return request


def make_env(anvil: AnvilNode, engine: Engine) -> ChainEnv:
    w3 = anvil.web3()
    env = ErpChainEnv(node=anvil, w3=w3, contracts=deploy_standard_contracts(w3), engine=engine)
    env.fund_tokens(env.accounts[PAYER_INDEX])
    return env


def paybridge_config(env: ChainEnv, confirmed_max: str = "10000") -> PayBridgeConfig:
    return PayBridgeConfig(
        chains=[env.chain_config()],
        assets=env.assets(),
        settlement_policy=SettlementPolicy(confirmed_max_amount=confirmed_max),
    )


def payer(env: ChainEnv) -> str:
    return env.accounts[PAYER_INDEX]


@dataclass
class Paid:
    exact: str
    partial: str
    over: str


def pay_scenario(env: ChainEnv, *, settle_blocks: int = 64) -> Paid:
    """Three USDC requests of 100: paid 100, 40 and 130; then the chain moves past finality."""
    exact = env.make_request("USDC", 100 * USDC)
    partial = env.make_request("USDC", 100 * USDC)
    over = env.make_request("USDC", 100 * USDC)
    env.pay_token(exact.deposit_address, 100 * USDC, sender=payer(env))
    env.pay_token(partial.deposit_address, 40 * USDC, sender=payer(env))
    env.pay_token(over.deposit_address, 130 * USDC, sender=payer(env))
    if settle_blocks:
        env.mine(settle_blocks)
    env.watcher().poll()
    return Paid(exact.id, partial.id, over.id)


def netsuite_config(sim: NetSuiteSimulator) -> NetSuiteConnectionConfig:
    return NetSuiteConnectionConfig(
        account=sim.account_id,
        consumer_key=DEFAULT_GRANT.consumer_key,
        consumer_secret=DEFAULT_GRANT.consumer_secret,
        token_id=DEFAULT_GRANT.token_id,
        token_secret=DEFAULT_GRANT.token_secret,
        base_url=sim.base_url,
        accounts=ACCOUNTS,
        backoff_initial_s=0.005,
        backoff_max_s=0.05,
    )


def bill_from_erp(env: ChainEnv, request_id: str, sim: NetSuiteSimulator, invoice: int) -> None:
    """Point a test request at a real invoice of the simulator (so settling can post it), and
    sync the simulator's open invoices as ``paybridge erp sync`` does (their A/R accounts and
    base currencies are what a payment posts with)."""
    with NetSuiteConnector(netsuite_config(sim)) as connector:
        sync_open_invoices(env.engine, connector, "netsuite", full=True)
    row = sim.account.transactions[invoice]
    with Session(env.engine) as session, session.begin():
        request = session.get(PaymentRequest, request_id)
        assert request is not None
        request.erp_system, request.company = "netsuite", str(row["subsidiary"])
        request.invoice_id, request.customer_id = str(invoice), str(row["entity"])
        bill_through_erp(session, request, "netsuite")
