"""Clearing in the simulated ledger: by document key (JournalEntryBulkClearingRequest_In) and
automatic clearing by assignment (F.13). Items clear only when they net to zero."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from simulators.sap import currency
from simulators.sap.ledger import DocumentKey, Ledger, Line, PostingRequest
from simulators.sap.messages import Message, msg


def clear(
    ledger: Ledger,
    company_code: str,
    keys: list[DocumentKey],
    posting_date: date,
    document_type: str = "AB",
    created_by: str = "",
) -> tuple[str | None, list[Message]]:
    """Clear open items that net to zero; returns the clearing document number."""
    with ledger.lock:
        company = ledger.company_codes.get(company_code)
        if company is None:
            return None, [msg("E", "F5", "165", company_code)]
        if (posting_date.year, posting_date.month) in company.closed_periods:
            return None, [
                msg("E", "F5", "201", f"{posting_date.month:03d}", str(posting_date.year))
            ]
        lines: list[Line] = []
        for key in keys:
            line = ledger.line(key)
            if line is None or key.company_code != company_code:
                return None, [
                    msg("E", "F5", "800", key.accounting_document, key.item, key.fiscal_year)
                ]
            if line.clearing_document:
                return None, [msg("E", "F5", "250", key.accounting_document, key.item)]
            if (
                line.account_type == "D"
                and company_code in ledger.customers[line.customer].blocked_in
            ):
                return None, [msg("E", "F5", "351", line.customer, company_code)]
            lines.append(line)
        if not lines:
            return None, [msg("E", "F5", "263", "0")]
        difference = sum((line.amount for line in lines), Decimal(0))
        if difference != 0:
            doc_currency = ledger.documents[keys[0].document].currency
            shown = currency.to_external(difference, doc_currency)
            return None, [msg("E", "F5", "263", f"{shown} {doc_currency}")]
        header = PostingRequest(
            company_code,
            document_type,
            posting_date,
            posting_date,
            company.currency,
            [],
            created_by=created_by,
        )
        clearing = ledger.book(header, committed=True)
        for line in lines:
            line.clearing_document = clearing.number
            line.clearing_year = clearing.fiscal_year
            line.clearing_date = posting_date
            line.clearing_created = datetime.now(UTC).date()
        for key in keys:
            changed = ledger.documents[key.document]
            changed.changed_on = datetime.now(UTC).date()
            changed.revision += 1
        ledger.version += 1
        return clearing.number, [msg("S", "F5", "312", clearing.number, company_code)]


def automatic_clearing(ledger: Ledger, company_code: str, posting_date: date) -> list[str]:
    """F.13 for customers: open items of one customer, currency and assignment netting to 0."""
    with ledger.lock:
        groups: dict[tuple[str, str, str], list[DocumentKey]] = defaultdict(list)
        for doc in ledger.documents.values():
            if doc.company_code != company_code or not doc.committed:
                continue
            for line in doc.lines:
                if line.account_type == "D" and not line.clearing_document and line.assignment:
                    key = DocumentKey(
                        doc.company_code, doc.fiscal_year, doc.number, f"{line.item:03d}"
                    )
                    groups[(line.customer, doc.currency, line.assignment)].append(key)
        cleared = []
        for keys in groups.values():
            if len(keys) < 2:
                continue
            number, _ = clear(ledger, company_code, keys, posting_date)
            if number:
                cleared.append(number)
        return cleared
