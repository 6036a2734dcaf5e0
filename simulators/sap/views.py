"""Read views over the ledger: the open-items cube row and the BAPI open-item line.

Both show amounts in the *external* format (the cube's amounts carry ``sap:unit``; BAPI
AR open items are converted to external unless memory id FSSC_NO_EXT_CONV says otherwise).
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from simulators.sap import currency
from simulators.sap.ledger import Document, Ledger, Line


def _posting_key(line: Line) -> str:
    debit = line.amount > 0
    if line.account_type == "D":
        return "01" if debit else "15"
    return "40" if debit else "50"


def cube_row(ledger: Ledger, doc: Document, line: Line) -> dict[str, Any]:
    """One A_OperationalAcctgDocItemCube entity (only the served properties)."""
    company = ledger.company_codes[doc.company_code]
    customer = ledger.customers.get(line.customer) if line.customer else None
    created = doc.created_at
    return {
        "CompanyCode": doc.company_code,
        "FiscalYear": doc.fiscal_year,
        "AccountingDocument": doc.number,
        "AccountingDocumentItem": f"{line.item:03d}",
        "CompanyCodeName": company.name,
        "ClearingDate": line.clearing_date,
        "ClearingCreationDate": line.clearing_created,
        "ClearingAccountingDocument": line.clearing_document,
        "IsCleared": bool(line.clearing_document),
        "PostingKey": _posting_key(line),
        "FinancialAccountType": line.account_type,
        "SpecialGLCode": "",
        "DebitCreditCode": "S" if line.amount > 0 else "H",
        "AssignmentReference": line.assignment,
        "DocumentItemText": line.text,
        "GLAccount": line.gl_account,
        "Customer": line.customer,
        "CustomerName": customer.name if customer else "",
        "DueCalculationBaseDate": doc.document_date if line.customer else None,
        "PaymentMethod": "",
        "PaymentBlockingReason": "",
        "PaymentDifferenceReason": line.reason_code,
        "ClearingDocFiscalYear": line.clearing_year,
        "FiscalPeriod": f"{doc.period:03d}",
        "PostingDate": doc.posting_date,
        "DocumentDate": doc.document_date,
        "AccountingDocumentType": doc.document_type,
        "NetDueDate": doc.document_date if line.customer else None,
        "CompanyCodeCurrency": doc.local_currency,
        "AmountInCompanyCodeCurrency": currency.to_external(line.local_amount, doc.local_currency),
        "TransactionCurrency": doc.currency,
        "AmountInTransactionCurrency": currency.to_external(line.amount, doc.currency),
        "AccountingDocumentCreationDate": created.date(),
        "CreationTime": time(created.hour, created.minute, created.second),
        "LastChangeDate": doc.changed_on,
        "AccountingDocCreatedByUser": doc.created_by,
        "DocumentReferenceID": doc.reference,
        "AccountingDocumentHeaderText": doc.header_text,
        "ExchangeRate": doc.exchange_rate.quantize(currency.Decimal("0.00001")),
        "OriginalReferenceDocument": doc.object_key,
        "IsReversal": False,
        "IsReversed": False,
    }


RowCache = dict[tuple[str, str, str], tuple[int, list[dict[str, Any]]]]


def cube_rows(ledger: Ledger, cache: RowCache | None = None) -> list[dict[str, Any]]:
    """Every committed line as a cube row; ``cache`` keeps the rows of unchanged documents."""
    cache = {} if cache is None else cache
    rows: list[dict[str, Any]] = []
    with ledger.lock:
        for doc in ledger.committed_documents():
            key = (doc.company_code, doc.fiscal_year, doc.number)
            hit = cache.get(key)
            if hit is None or hit[0] != doc.revision:
                hit = (doc.revision, [cube_row(ledger, doc, line) for line in doc.lines])
                cache[key] = hit
            rows.extend(hit[1])
    return rows


def bapi_line_items(
    ledger: Ledger,
    company_code: str,
    customer: str,
    keydate: date | None = None,
    posted_from: date | None = None,
    posted_to: date | None = None,
) -> list[dict[str, str]]:
    """LINEITEMS rows (BAPI3007_2 subset), external amounts.

    With ``keydate`` (BAPI_AR_ACC_GETOPENITEMS): items posted by then and open at that date.
    With a posting-date range (BAPI_AR_ACC_GETSTATEMENT): open and cleared items of the range.
    """
    rows = []
    with ledger.lock:
        for doc in ledger.committed_documents(company_code):
            if posted_from and doc.posting_date < posted_from:
                continue
            if (posted_to and doc.posting_date > posted_to) or (
                keydate and doc.posting_date > keydate
            ):
                continue
            for line in doc.lines:
                if line.customer != customer:
                    continue
                statement = posted_from is not None or posted_to is not None
                if (
                    not statement
                    and line.clearing_date
                    and (keydate is None or line.clearing_date <= keydate)
                ):
                    continue
                amount = currency.to_external(abs(line.amount), doc.currency)
                local = currency.to_external(abs(line.local_amount), doc.local_currency)
                rows.append(
                    {
                        "COMP_CODE": doc.company_code,
                        "CUSTOMER": line.customer,
                        "SP_GL_IND": "",
                        "CLEAR_DATE": line.clearing_date.isoformat() if line.clearing_date else "",
                        "CLR_DOC_NO": line.clearing_document,
                        "ALLOC_NMBR": line.assignment,
                        "FISC_YEAR": doc.fiscal_year,
                        "DOC_NO": doc.number,
                        "ITEM_NUM": f"{line.item:03d}",
                        "PSTNG_DATE": doc.posting_date.isoformat(),
                        "DOC_DATE": doc.document_date.isoformat(),
                        "ENTRY_DATE": doc.created_at.date().isoformat(),
                        "CURRENCY": doc.currency,
                        "LOC_CURRCY": doc.local_currency,
                        "REF_DOC_NO": doc.reference,
                        "DOC_TYPE": doc.document_type,
                        "FIS_PERIOD": f"{doc.period:02d}",
                        "POST_KEY": _posting_key(line),
                        "DB_CR_IND": "S" if line.amount > 0 else "H",
                        "LC_AMOUNT": format(local, "f"),
                        "AMT_DOCCUR": format(amount, "f"),
                        "ITEM_TEXT": line.text,
                        "BLINE_DATE": doc.document_date.isoformat(),
                        "PYMT_METH": "",
                        "PMNT_BLOCK": "",
                    }
                )
    return rows
