"""BAPI rows and parameters for the ECC connector (pure functions, no RFC calls).

``BAPI_AR_ACC_GETOPENITEMS`` answers BAPI3007_2 rows (amounts external, BAPIWRBTR, with
DB_CR_IND S/H); ``BAPI_ACC_DOCUMENT_POST`` takes BAPIACHE09 / BAPIACGL09 / BAPIACAR09 /
BAPIACCR09 (AMT_DOCCUR DEC 23,4, external) with ALPHA fields in internal form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import ErpInvoice, ErpRejectedError, QuarantinedInvoice
from paybridge_connectors.erp.sap.amounts import SapAmountError, external, parse_external
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.openitems import ERP_SYSTEM, as_date
from paybridge_connectors.erp.sap.posting import PlannedPosting
from paybridge_connectors.erp.sap.rfc import alpha

ERROR_TYPES = ("E", "A")


def rows_of(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def return_errors(result: dict[str, Any]) -> list[str]:
    """SAP's texts of RETURN rows (table BAPIRET2 or single BAPIRETURN) of type E or A."""
    return [
        f"{r.get('TYPE')} {r.get('ID', '')}/{r.get('NUMBER', '')}: {r.get('MESSAGE', '')}".strip()
        for r in rows_of(result.get("RETURN", []))
        if r.get("TYPE") in ERROR_TYPES
    ]


def item_id(row: dict[str, Any]) -> str:
    return (
        f"{row.get('FISC_YEAR')}-{row.get('DOC_NO')}-{str(row.get('ITEM_NUM', '')).zfill(3)[-3:]}"
    )


def eligible(config: SapConnectionConfig, row: dict[str, Any]) -> bool:
    """Invoices only (debit, no special G/L), not payment-blocked, of the configured types."""
    cfg = config
    return (
        row.get("DB_CR_IND") == "S"
        and not row.get("SP_GL_IND")
        and not row.get("PMNT_BLOCK")
        and (not cfg.eligible_document_types or row.get("DOC_TYPE") in cfg.eligible_document_types)
        and (
            not cfg.eligible_payment_methods or row.get("PYMT_METH") in cfg.eligible_payment_methods
        )
    )


def lineitem_invoice(
    config: SapConnectionConfig, row: dict[str, Any]
) -> ErpInvoice | QuarantinedInvoice:
    """One BAPI3007_2 row -> an invoice, or a quarantine entry naming the field."""
    invoice_id = item_id(row)
    currency = str(row.get("CURRENCY") or "")
    try:
        amount = parse_external(str(row.get("AMT_DOCCUR")), currency, config.currency_decimals)
    except (SapAmountError, ValueError) as exc:
        return QuarantinedInvoice(
            ERP_SYSTEM,
            row.get("COMP_CODE"),
            invoice_id,
            "AMT_DOCCUR",
            f"item {invoice_id}: {exc}",
            row,
        )
    if amount <= 0:
        return QuarantinedInvoice(
            ERP_SYSTEM,
            row.get("COMP_CODE"),
            invoice_id,
            "AMT_DOCCUR",
            f"item {invoice_id}: amount {amount} is not positive",
            row,
        )
    posted = as_date(row.get("PSTNG_DATE") or None) or date(1970, 1, 1)
    return ErpInvoice(
        erp_system=ERP_SYSTEM,
        company=str(row.get("COMP_CODE")),
        invoice_id=invoice_id,
        invoice_number=str(row.get("REF_DOC_NO") or row.get("DOC_NO")),
        customer_id=str(row.get("CUSTOMER")),
        amount=amount,
        total=amount,
        currency=currency,
        due_date=as_date(row.get("BLINE_DATE") or None),
        base_currency=row.get("LOC_CURRCY") or None,
        last_modified=datetime.combine(posted, datetime.min.time(), UTC),
    )


def document_params(
    config: SapConnectionConfig, settlement: Settlement, plan: PlannedPosting
) -> dict[str, Any]:
    """The BAPI_ACC_DOCUMENT_POST parameters (also sent to BAPI_ACC_DOCUMENT_CHECK)."""
    cfg = config
    header = {
        "BUS_ACT": "RFBU",
        "USERNAME": cfg.sap_user[:12],
        "HEADER_TXT": plan.header_text[:25],
        "COMP_CODE": settlement.company,
        "DOC_DATE": plan.posting_date,
        "PSTNG_DATE": plan.posting_date,
        "TRANS_DATE": plan.posting_date,
        "DOC_TYPE": cfg.payment_document_type,
        "REF_DOC_NO": plan.reference,
    }
    gl, receivable, amounts = [], [], []
    for number, line in enumerate(plan.lines, start=1):
        item_no = str(number).zfill(10)
        common = {"ITEMNO_ACC": item_no, "ITEM_TEXT": line.text[:50]}
        if line.assignment:
            common["ALLOC_NMBR"] = line.assignment[:18]
        if line.kind == "gl":
            gl.append(
                {
                    **common,
                    "GL_ACCOUNT": alpha(line.account),
                    "COMP_CODE": settlement.company,
                    "VALUE_DATE": plan.posting_date,
                }
            )
        else:
            receivable.append(
                {**common, "CUSTOMER": alpha(line.account), "COMP_CODE": settlement.company}
            )
        amount = external(line.amount, settlement.currency, cfg.currency_decimals)  # BAPICURR
        currency_row: dict[str, Any] = {
            "ITEMNO_ACC": item_no,
            "CURR_TYPE": "00",
            "CURRENCY": settlement.currency,
            "AMT_DOCCUR": amount,
        }
        if plan.exchange_rate is not None:
            currency_row["EXCH_RATE"] = bapi_rate(settlement.settlement_id, plan.exchange_rate)
        amounts.append(currency_row)
    return {
        "DOCUMENTHEADER": header,
        "ACCOUNTGL": gl,
        "ACCOUNTRECEIVABLE": receivable,
        "CURRENCYAMOUNT": amounts,
        "RETURN": [],
    }


def bapi_rate(settlement_id: str, rate: Decimal) -> Decimal:
    """The rate as BAPIACCR09-EXCH_RATE (DEC 9,5) holds it, or a refusal: never rounded."""
    if rate != rate.quantize(Decimal("0.00001")) or rate >= 10_000:
        raise ErpRejectedError(
            f"settlement {settlement_id}: exchange rate {rate} does not fit BAPIACCR09-EXCH_RATE "
            "(DEC 9,5: at most 4 integer digits and 5 decimals); configure the pair in "
            "paybridge.toml [fx_rates] to 5 decimals, then requeue",
            "EXCH_RATE",
            "exchange_rate",
        )
    return rate
