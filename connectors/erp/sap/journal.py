"""A settlement as SAP line items: the one place that maps journal lines to G/L accounts.

Both S/4 (SOAP journal entry) and ECC (BAPI_ACC_DOCUMENT_POST) post the same lines: the
settlement's full journal (``Settlement.full_journal()``) in ONE document, amounts signed
(+ debit, - credit) in the document currency, external format. Receivable lines become customer
items carrying the invoice's assignment (ZUONR), so SAP clears them against the invoice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from connectors.erp.protocol import ErpRejectedError

if TYPE_CHECKING:
    from connectors.erp.sap.config import CompanyCodeAccounts
    from paybridge.domain.settlements import JournalLine, Settlement

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


def _write_off_reason(line: JournalLine) -> str:
    """Qualifier from the line when the domain carries one, else from the engine's memo
    ("payment difference <REASON>"), else 'default'."""
    reason = getattr(line, "reason_code", None) or getattr(line, "write_off_reason", None)
    if reason:
        return str(reason)
    memo = line.memo or ""
    if memo.startswith("payment difference "):
        return memo.removeprefix("payment difference ").split(",")[0].strip() or "default"
    return "default"


def _payment_lines(
    settlement: Settlement, clearing: str, assignments: dict[str, str]
) -> list[SapLine]:
    """The customer-payment half (what ``Settlement.full_journal()`` puts first): Dr clearing,
    Cr each invoice applied (split so each invoice's items net to zero), Cr an unapplied rest."""
    customer = settlement.customer_id
    lines = [
        SapLine("gl", clearing, settlement.payment_amount, "crypto_clearing", "customer payment")
    ]
    for app in settlement.applications:
        lines.append(
            SapLine(
                "customer",
                customer,
                -app.amount,
                "ar",
                f"invoice {app.invoice_id}"[:50],
                assignments.get(app.invoice_id),
                invoice_id=app.invoice_id,
                purpose="applied",
            )
        )
    if settlement.unapplied:
        lines.append(
            SapLine(
                "customer",
                customer,
                -settlement.unapplied,
                "customer_credit",
                "unapplied",
                purpose="credit",
            )
        )
    return lines


def sap_lines(
    settlement: Settlement,
    accounts: CompanyCodeAccounts,
    asset_class: str,
    assignments: dict[str, str],
) -> list[SapLine]:
    """Every line of the settlement's full journal with its SAP account, in one document.

    ``assignments``: invoice id -> the invoice item's assignment (ZUONR), read from SAP.
    Receivable lines of the journal (a write-off's Cr AR) belong to the single invoice applied.
    """
    sid = settlement.settlement_id
    apps = settlement.applications
    only_invoice = apps[0].invoice_id if len(apps) == 1 else None
    lines = _payment_lines(settlement, accounts.clearing, assignments)
    for line in settlement.journal_lines:
        signed = line.debit - line.credit
        text = (line.memo or line.account_role)[:50]
        role = line.account_role
        if role == "ar":
            lines.append(
                SapLine(
                    "customer",
                    settlement.customer_id,
                    signed,
                    role,
                    text,
                    assignments.get(only_invoice or ""),
                    invoice_id=only_invoice,
                    purpose="write_off",
                )
            )
        elif role == "customer_credit":
            lines.append(
                SapLine("customer", settlement.customer_id, signed, role, text, purpose="credit")
            )
        elif role == "crypto_clearing":
            lines.append(SapLine("gl", accounts.clearing, signed, role, text))
        elif role == "digital_asset":
            asset = str(getattr(line, "asset_class", None) or asset_class)
            account = accounts.digital_asset.get(asset)
            if account is None:
                raise ErpRejectedError(
                    f"settlement {sid}: no digital_asset G/L account for asset class {asset!r} "
                    f"in company code {settlement.company}; add it to accounts."
                    f"{settlement.company}.digital_asset",
                    "CONFIG",
                    "digital_asset",
                )
            lines.append(SapLine("gl", account, signed, role, text))
        elif role == "settlement_gain_loss":
            account = accounts.gain if signed < 0 else accounts.loss
            lines.append(SapLine("gl", account, signed, role, text))
        elif role == "write_off":
            reason = _write_off_reason(line)
            account = accounts.write_off.get(reason) or accounts.write_off.get("default")
            if account is None:
                raise ErpRejectedError(
                    f"settlement {sid}: no write_off G/L account for reason {reason!r} in company "
                    f"code {settlement.company}; add accounts.{settlement.company}.write_off."
                    f"{reason} (or .default)",
                    "CONFIG",
                    "write_off",
                )
            code = accounts.reason_codes.get(reason) or accounts.reason_codes.get("default")
            lines.append(SapLine("gl", account, signed, role, text, reason_code=code))
        else:
            raise ErpRejectedError(
                f"settlement {sid}: journal role {role!r} has no SAP mapping", "CONFIG", role
            )
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
