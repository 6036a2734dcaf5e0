"""What will be posted for a settlement, checked against SAP before anything is written.

Shared by S/4 and ECC: the invoice items are looked up first (still open, same customer and
currency, enough open amount), their assignments (ZUONR) are copied onto our customer items,
and the content fingerprint goes into the header text so a later post of the same settlement
id with other content is recognised and refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import ErpRejectedError
from paybridge_connectors.erp.sap.amounts import SapAmountError, parse_external
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.journal import (
    HEADER_TEXT_PREFIX,
    SapLine,
    document_reference,
    fingerprint,
    sap_lines,
)

ERP_SYSTEM = "sap"
MAX_SETTLEMENT_ID_IN_TEXT = 45  # item text CHAR 50 = "PB-W " + id
TEXT_MARKERS = {"PB ": "applied", "PB-W ": "write_off", "PB-C ": "credit"}

InvoiceLookup = Callable[[str, str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class PlannedPosting:
    reference: str
    header_text: str
    posting_date: date
    lines: list[SapLine]
    invoice_amounts: dict[str, Decimal]  # open amount of each invoice item, read from SAP
    exchange_rate: Decimal | None = None

    def clearable_invoices(self) -> dict[str, str]:
        """invoice id -> assignment, for invoices whose open amount our items settle fully."""
        settled: dict[str, Decimal] = {}
        assignment: dict[str, str] = {}
        for line in self.lines:
            if line.kind == "customer" and line.invoice_id:
                settled[line.invoice_id] = settled.get(line.invoice_id, Decimal(0)) - line.amount
                assignment[line.invoice_id] = line.assignment or ""
        return {
            invoice: assignment[invoice]
            for invoice, amount in settled.items()
            if amount == self.invoice_amounts.get(invoice)
        }


MARKER_OF = {purpose: marker for marker, purpose in TEXT_MARKERS.items()}


def _texts(settlement_id: str, lines: list[SapLine]) -> list[SapLine]:
    """Customer items carry ``<marker><settlement id>`` as text: tie-outs read it back."""
    return [
        dataclasses.replace(line, text=f"{MARKER_OF[line.purpose]}{settlement_id}")
        if line.kind == "customer"
        else line
        for line in lines
    ]


def settlement_id_from_text(text: str) -> tuple[str, str]:
    """(settlement id, applied | write_off | credit) from one of our customer item texts."""
    for marker in sorted(TEXT_MARKERS, key=len, reverse=True):
        if text.startswith(marker):
            return text[len(marker) :].strip(), TEXT_MARKERS[marker]
    return "", ""


def posting_date_of(config: SapConnectionConfig, settlement: Settlement) -> date:
    """The day the money arrived, in the company code's time zone (``received_at``); else the
    settlement's value date; else today (UTC)."""
    received = getattr(settlement, "received_at", None)
    if received is not None:
        return received.astimezone(config.zone(settlement.company)).date()
    return settlement.value_date or datetime.now(UTC).date()


def plan_posting(
    config: SapConnectionConfig,
    settlement: Settlement,
    lookup: InvoiceLookup,
    *,
    already_posted: bool = False,
) -> PlannedPosting:
    """Check the settlement against the configuration and SAP's invoice items; plan the lines.

    ``already_posted``: our document exists (found by reference), so its invoice items may be
    cleared already (by us); the plan is then only compared with what was posted."""
    sid = settlement.settlement_id
    if settlement.erp_system != ERP_SYSTEM:
        raise ErpRejectedError(f"settlement {sid} is for {settlement.erp_system!r}, not sap")
    if settlement.company not in config.company_codes:
        raise ErpRejectedError(
            f"settlement {sid}: company code {settlement.company} is not one of this connection's "
            f"company_codes {list(config.company_codes)}",
            "CONFIG",
            "company_codes",
        )
    if len(sid) > MAX_SETTLEMENT_ID_IN_TEXT:
        raise ErpRejectedError(
            f"settlement {sid}: ids over {MAX_SETTLEMENT_ID_IN_TEXT} characters do not fit SAP's "
            "item text, where tie-outs read them back",
            "ID_TOO_LONG",
            "settlement_id",
        )
    assignments: dict[str, str] = {}
    amounts: dict[str, Decimal] = {}
    for app in settlement.applications:
        item = lookup(settlement.company, app.invoice_id)
        where = (
            f"settlement {sid}: invoice item {app.invoice_id} in company code {settlement.company}"
        )
        if item is None:
            raise ErpRejectedError(f"{where} does not exist in SAP", "NO_ITEM", "applications")
        if item.get("IsCleared") and not already_posted:
            raise ErpRejectedError(
                f"{where} is already cleared by document {item.get('ClearingAccountingDocument')}",
                "ALREADY_CLEARED",
                "applications",
            )
        if str(item.get("Customer")) != settlement.customer_id:
            raise ErpRejectedError(
                f"{where} belongs to customer {item.get('Customer')}, not {settlement.customer_id}",
                "CUSTOMER",
                "customer_id",
            )
        if item.get("TransactionCurrency") != settlement.currency:
            raise ErpRejectedError(
                f"{where} is in {item.get('TransactionCurrency')}, not {settlement.currency}",
                "CURRENCY",
                "currency",
            )
        try:
            open_amount = parse_external(
                str(item.get("AmountInTransactionCurrency")),
                settlement.currency,
                config.currency_decimals,
            )
        except SapAmountError as exc:
            raise ErpRejectedError(f"{where}: {exc}", "AMOUNT", "amount") from exc
        if app.amount > open_amount:
            raise ErpRejectedError(
                f"{where}: applying {app.amount} is more than its open amount {open_amount}",
                "AMOUNT_ABOVE_OPEN",
                "applications",
            )
        assignments[app.invoice_id] = str(item.get("AssignmentReference") or "")
        amounts[app.invoice_id] = open_amount
    accounts = config.accounts[settlement.company]
    asset_class = config.asset_class or config.payment_asset or next(iter(accounts.digital_asset))
    lines = _texts(sid, sap_lines(settlement, accounts, asset_class, assignments))
    posting_date = posting_date_of(config, settlement)
    rate = getattr(settlement, "exchange_rate", None)
    return PlannedPosting(
        reference=document_reference(sid),
        header_text=HEADER_TEXT_PREFIX + fingerprint(settlement, lines, posting_date.isoformat()),
        posting_date=posting_date,
        lines=lines,
        invoice_amounts=amounts,
        exchange_rate=Decimal(str(rate)) if rate is not None else None,
    )
