"""SAP pieces of the reconcile-store tests: the simulator's connection settings, a request
billed from a real SAP sync, and the simulator's G/L lines of PayBridge's documents beside
what ``paybridge_connectors.erp.sap.journal.sap_lines`` says the settlement posts."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

from chainenv import ChainEnv
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.journal import document_reference, sap_lines
from recon_store_helpers import bill_through_erp, paybridge_config
from sqlalchemy.orm import Session

from paybridge.config import MerchantConfig
from paybridge.domain.settlements import Settlement
from paybridge.erp_sync import PaymentTarget, intake_open_invoices, sync_open_invoices
from paybridge.requests.pipeline import create_pending_requests
from paybridge.store.models import PaymentRequest
from simulators.sap import DEFAULT_PASSWORD, DEFAULT_USER, SAPSimulator

CONNECTION = "sap"
COMPANY = "1710"  # the simulator's US company code: USD invoices paid in USDC at 1 USD
CUSTOMER = "17100001"
RECEIVABLES = "0012100000"  # the customer's reconciliation account in the simulator
ACCOUNTS: dict[str, Any] = {
    "clearing": "11002000",
    "digital_asset": {"financial_instrument": "11003000", "crypto_asset": "11003100"},
    "gain": "70010000",
    "loss": "70020000",
    "write_off": {"default": "70030000"},
    "reason_codes": {"PAYMENT_DIFFERENCE": "051"},
    "receivables": "12100000",
}


def sap_config(sim: SAPSimulator, system: str, **overrides: object) -> SapConnectionConfig:
    values: dict[str, object] = {
        "name": CONNECTION,
        "system": system,
        "base_url": sim.base_url,
        "client": "100",
        "user": DEFAULT_USER,
        "password": DEFAULT_PASSWORD,
        "company_codes": (COMPANY,),
        "customers": (CUSTOMER,),
        "accounts": {COMPANY: ACCOUNTS},
        "payment_asset": "USDC",
        "payment_chain": "anvil",
        "backoff_initial_s": 0.005,
        "backoff_max_s": 0.05,
        "max_attempts": 8,
        "timeout_s": 10,
        "clearing_check_interval_s": 0.05,
    }
    values.update(overrides)
    return SapConnectionConfig(**values)  # type: ignore[arg-type]


def sap_env(config: SapConnectionConfig) -> dict[str, str]:
    """The same connection as ``SAP_*`` variables (what ``paybridge`` commands read)."""
    assert config.password is not None
    return {
        "SAP_SYSTEM": config.system.upper(),
        "SAP_BASE_URL": config.base_url,
        "SAP_CLIENT": config.client,
        "SAP_USER": config.user or "",
        "SAP_PASSWORD": config.password.get_secret_value(),
        "SAP_COMPANY_CODES": ",".join(config.company_codes),
        "SAP_CUSTOMERS": ",".join(config.customers),
        "SAP_ACCOUNTS": json.dumps({c: ACCOUNTS for c in config.company_codes}),
    }


def sync_and_take_in(env: ChainEnv, connector: Any) -> int:
    """``paybridge erp sync`` for the SAP connection: mirror the open items, take them in."""
    summary = sync_open_invoices(env.engine, connector, CONNECTION, full=True)
    assert summary.quarantined == 0, summary.quarantined_invoices
    return intake_open_invoices(env.engine, CONNECTION, PaymentTarget("anvil", "USDC"))


# anvil's public test mnemonic, account 0 (m/44'/60'/0'): allowed on the local chain only
ANVIL_XPUB = (
    "xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd"
    "54JoNXVsXFYSYwHsnJxqP"
)


def request_from_intake(env: ChainEnv, invoice_id: str) -> PaymentRequest:
    """``paybridge requests create`` for the taken-in SAP invoice: a locked USDC quote and a
    deposit address derived from the merchant's xpub."""
    config = paybridge_config(env).model_copy(update={"merchant": MerchantConfig(xpub=ANVIL_XPUB)})
    summary = create_pending_requests(env.engine, config, actor="test", invoice_ids=[invoice_id])
    assert not summary.skipped, summary.skipped
    (created,) = summary.requests
    with Session(env.engine, expire_on_commit=False) as session:
        request = session.get(PaymentRequest, created.request.id)
        assert request is not None
        return request


def bill_sap_invoice(env: ChainEnv, invoice_id: str, amount: Decimal) -> PaymentRequest:
    """A USDC payment request for the synced SAP invoice ``invoice_id`` (1 USDC = 1 USD)."""
    request = env.make_request("USDC", int(amount * 10**6))
    with Session(env.engine, expire_on_commit=False) as session, session.begin():
        row = session.get(PaymentRequest, request.id)
        assert row is not None
        row.erp_system, row.company, row.invoice_id = "sap", COMPANY, invoice_id
        row.customer_id, row.currency, row.invoice_amount = f"00{CUSTOMER}", "USD", amount
        bill_through_erp(session, row, CONNECTION)
    return row


def expected_lines(
    config: SapConnectionConfig, settlement: Settlement, assignments: dict[str, str]
) -> Counter[tuple[str, Decimal, str]]:
    """(account, signed amount, assignment) of every item ``sap_lines`` plans; customer items
    are booked on the customer (its reconciliation account in the G/L)."""
    accounts = config.accounts[settlement.company]
    asset_class = config.asset_class or config.payment_asset or ""
    return Counter(
        (
            f"customer {line.account.zfill(10)}"
            if line.kind == "customer"
            else line.account.zfill(10),
            line.amount,
            line.assignment or "",
        )
        for line in sap_lines(settlement, accounts, asset_class, assignments)
    )


def ledger_lines(sim: SAPSimulator, settlement_id: str) -> Counter[tuple[str, Decimal, str]]:
    """The same triples from the simulator's G/L, for PayBridge's document of the settlement
    (found by its reference, as SAP's FB03 would)."""
    reference = document_reference(settlement_id)
    lines = [x for x in sim.ledger.gl_lines(COMPANY) if x["reference"] == reference]
    assert len({x["document"] for x in lines}) == 1, f"{settlement_id}: {lines}"
    out: Counter[tuple[str, Decimal, str]] = Counter()
    for x in lines:
        amount = Decimal(str(x["amount"])).copy_abs()
        signed = amount if x["debit_credit"] == "S" else -amount
        account = f"customer {x['customer']}" if x["customer"] else str(x["gl_account"])
        if x["customer"]:
            assert x["gl_account"] == RECEIVABLES, x  # the customer's reconciliation account
        out[(account, signed, str(x["assignment"] or "") if x["customer"] else "")] += 1
    return out
