"""Shared pieces of the SAP connector tests: a settlement, a config, the reference folder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paybridge_connectors.erp.sap.config import SapConnectionConfig

from paybridge.domain.settlements import (
    Application,
    Evidence,
    JournalLine,
    Settlement,
    WriteOff,
)

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sap"
if not REFERENCE.is_dir():
    REFERENCE = Path("/work/shared/reference/sap")

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"SAP reference definitions not found at {REFERENCE}: conformance checks skipped",
)

ACCOUNTS: dict[str, Any] = {
    "clearing": "11002000",
    "digital_asset": {"financial_instrument": "11003000", "crypto_asset": "11003100"},
    "gain": "70010000",
    "loss": "70020000",
    "write_off": {"default": "70030000", "PAYMENT_DIFFERENCE": "70030100"},
    "reason_codes": {"PAYMENT_DIFFERENCE": "051"},
    "receivables": "12100000",
}


def sap_config(**overrides: object) -> SapConnectionConfig:
    values: dict[str, object] = {
        "system": "s4",
        "base_url": "http://127.0.0.1:9",
        "client": "100",
        "user": "PAYBRIDGE",
        "password": "secret",
        "company_codes": ("1010", "2910", "4010"),
        "accounts": {"1010": ACCOUNTS, "2910": ACCOUNTS, "4010": ACCOUNTS},
        "payment_asset": "USDC",
        "backoff_initial_s": 0.001,
        "backoff_max_s": 0.01,
        "max_attempts": 3,
        "timeout_s": 5,
        "clearing_check_interval_s": 0.05,
    }
    values.update(overrides)
    return SapConnectionConfig(**values)  # type: ignore[arg-type]


def settlement(
    invoice_id: str = "2026-0100000000-001",
    *,
    company: str = "1010",
    currency: str = "EUR",
    invoice_amount: Decimal = Decimal("1190.00"),
    short: Decimal = Decimal("0.50"),
    extra: Decimal = Decimal("0"),
    settlement_id: str = "pb-pr_0123456789abcdef01234567",
    customer: str = "0017100001",
) -> Settlement:
    """The invoice settled in full: ``short`` written off (reason PAYMENT_DIFFERENCE), ``extra``
    paid on top left as the customer's credit, a fair-value journal with a gain."""
    paid = invoice_amount - short + extra
    gain = Decimal(1).scaleb(invoice_amount.as_tuple().exponent)  # one minor unit
    lines = (
        JournalLine(
            "digital_asset",
            debit=paid + gain,
            memo="USDC at fair value",
            account_key="financial_instrument",
        ),
        JournalLine(
            "settlement_gain_loss", credit=gain, memo="rate difference", account_key="gain"
        ),
        JournalLine("crypto_clearing", credit=paid, memo="clear customer payment"),
    )
    return Settlement(
        settlement_id=settlement_id,
        erp_system="sap",
        company=company,
        customer_id=customer,
        currency=currency,
        applications=(Application(invoice_id, invoice_amount),),
        payment_amount=paid,
        journal_lines=lines,
        write_offs=(WriteOff(invoice_id, short, "PAYMENT_DIFFERENCE"),) if short else (),
        evidence=Evidence(31337, ("0x" + "ab" * 32,), "1.0", "test"),
    )
