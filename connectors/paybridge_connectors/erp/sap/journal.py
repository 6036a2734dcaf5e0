"""A settlement as SAP line items: the one place that maps journal lines to G/L accounts.

Both S/4 (SOAP journal entry) and ECC (BAPI_ACC_DOCUMENT_POST) post the same lines: the
settlement's full journal (``Settlement.full_journal()``) in ONE document, amounts signed
(+ debit, - credit) in the document currency, external format. Receivable lines become customer
items carrying the invoice's assignment (ZUONR), so SAP clears them against the invoice.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from paybridge_connectors.erp.protocol import ErpRejectedError

if TYPE_CHECKING:
    from paybridge.domain.settlements import Settlement
    from paybridge_connectors.erp.sap.config import CompanyCodeAccounts

REFERENCE_LENGTH = 16  # XBLNR / DocumentReferenceID / REF_DOC_NO: CHAR 16
HEADER_TEXT_PREFIX = "PB:"  # BKTXT (25): "PB:" + content fingerprint (22)


@dataclass(frozen=True)
class SapLine:
    kind: Literal["gl", "customer"]
    account: str  # G/L account, or the customer for customer items
    amount: Decimal  # signed: + debit, - credit; document currency, external format
    role: str
    text: str
    assignment: str | None = None  # ZUONR / AssignmentReference (invoice reference)
    reason_code: str | None = None  # payment-difference reason (T053R)
    invoice_id: str | None = None  # the invoice a customer item settles
    purpose: str = ""  # customer items: applied | write_off | credit


def _short(text: str, length: int) -> str:
    digest = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()
    return digest[:length]


def document_reference(settlement_id: str) -> str:
    """The settlement's key in SAP's 16-character reference: the id when it fits, else
    ``PB`` + 14 characters of its SHA-256 (base32), deterministic across retries."""
    if len(settlement_id) <= REFERENCE_LENGTH and settlement_id.isascii():
        return settlement_id
    return "PB" + _short(settlement_id, REFERENCE_LENGTH - 2)


def _digital_asset_account(
    settlement: Settlement, accounts: CompanyCodeAccounts, asset_class: str, key: str
) -> str:
    asset = key or asset_class
    account = accounts.digital_asset.get(asset)
    if account is None:
        raise ErpRejectedError(
            f"settlement {settlement.settlement_id}: no digital_asset G/L account for asset class "
            f"{asset!r} in company code {settlement.company}; add it to accounts."
            f"{settlement.company}.digital_asset",
            "CONFIG",
            "digital_asset",
        )
    return account


def _write_off(settlement: Settlement, accounts: CompanyCodeAccounts, reason: str) -> SapLine:
    """The G/L item of one write-off reason (debit), its SAP reason code when one is mapped."""
    account = accounts.write_off.get(reason) or accounts.write_off.get("default")
    if account is None:
        raise ErpRejectedError(
            f"settlement {settlement.settlement_id}: no write_off G/L account for reason "
            f"{reason!r} in company code {settlement.company}; add accounts."
            f"{settlement.company}.write_off.{reason} (or .default)",
            "CONFIG",
            "write_off",
        )
    code = accounts.reason_codes.get(reason) or (reason if len(reason) <= 3 else None)
    return SapLine(
        "gl", account, Decimal(0), "write_off", f"write-off {reason}"[:50], reason_code=code
    )


def sap_lines(
    settlement: Settlement,
    accounts: CompanyCodeAccounts,
    asset_class: str,
    assignments: dict[str, str],
) -> list[SapLine]:
    """The settlement's full journal (``Settlement.full_journal()``) as SAP items, one document.

    * Dr crypto clearing by the payment;
    * per write-off: Dr the reason's write-off G/L (with its SAP reason code);
    * per invoice: Cr the customer by the cash applied and, as its own item, by the written-off
      part: both carry the invoice's assignment (``assignments``: invoice id -> ZUONR read from
      SAP), so the invoice's items net to zero and clear;
    * Cr the customer by an unapplied rest (the customer's credit, left open);
    * the fair-value journal: Cr clearing, Dr the digital-asset G/L of the line's asset class
      (``account_key``; default ``asset_class``), gain or loss (``account_key``, else the side).
    """
    customer = settlement.customer_id
    lines = [
        SapLine(
            "gl",
            accounts.clearing,
            settlement.payment_amount,
            "crypto_clearing",
            "customer payment",
        )
    ]
    written: dict[str, Decimal] = {}
    for w in settlement.write_offs:
        line = _write_off(settlement, accounts, w.reason_code)
        lines.append(dataclasses.replace(line, amount=w.amount))
        written[w.invoice_id] = written.get(w.invoice_id, Decimal(0)) + w.amount
    for app in settlement.applications:
        assignment = assignments.get(app.invoice_id)
        cash = app.amount - written.get(app.invoice_id, Decimal(0))
        for amount, purpose in ((cash, "applied"), (written.get(app.invoice_id), "write_off")):
            if amount:
                lines.append(
                    SapLine(
                        "customer",
                        customer,
                        -amount,
                        "ar",
                        f"{purpose} {app.invoice_id}"[:50],
                        assignment,
                        invoice_id=app.invoice_id,
                        purpose=purpose,
                    )
                )
    if settlement.unapplied:
        lines.append(
            SapLine(
                "customer", customer, -settlement.unapplied, "ar", "unapplied", purpose="credit"
            )
        )
    for line in settlement.journal_lines:
        signed = line.debit - line.credit
        text = (line.memo or line.account_role)[:50]
        key = getattr(line, "account_key", "") or ""
        if line.account_role == "crypto_clearing":
            account = accounts.clearing
        elif line.account_role == "digital_asset":
            account = _digital_asset_account(settlement, accounts, asset_class, key)
        elif line.account_role == "settlement_gain_loss":
            gain = key == "gain" if key in ("gain", "loss") else signed < 0
            account = accounts.gain if gain else accounts.loss
        else:
            raise ErpRejectedError(
                f"settlement {settlement.settlement_id}: journal role {line.account_role!r} has "
                "no SAP mapping",
                "CONFIG",
                line.account_role,
            )
        lines.append(SapLine("gl", account, signed, line.account_role, text))
    return lines


def fingerprint(settlement: Settlement, lines: list[SapLine], posting_date: str) -> str:
    """22 characters identifying what is posted (header text ``PB:<fingerprint>``): the same
    settlement id with other content gets another fingerprint and is refused."""
    content = {
        "id": settlement.settlement_id,
        "company": settlement.company,
        "customer": settlement.customer_id,
        "currency": settlement.currency,
        "posting_date": posting_date,
        "lines": [[x.kind, x.account, str(x.amount), x.assignment, x.reason_code] for x in lines],
    }
    return _short(json.dumps(content, sort_keys=True), 22)
