"""S/4HANA SOAP messages, built as plain XML in the order of SAP's schema.

* ``JournalEntryCreateRequestConfirmation_In`` (WSDL ``JOURNALENTRYCREATEREQUESTCONFI``): root
  ``JournalEntryBulkCreateRequest`` in ``http://sap.com/xi/SAPSCORE/SFIN``; child elements are
  unqualified (the schema has no ``elementFormDefault``), each in its xsd:sequence position.
* ``JournalEntryBulkClearingRequest_In``: root ``JournalEntryBulkClearingRequest``, names read
  back from SAP's generated proxy types (see reference/sap/PROVENANCE.md). Asynchronous: no
  answer body; the result is read back from the open-items cube.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from paybridge_connectors.erp.sap.journal import SapLine

SFIN = "http://sap.com/xi/SAPSCORE/SFIN"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
CREATE_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
CLEARING_PATH = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques"
CREATE_ACTION = (
    "http://sap.com/xi/SAPSCORE/SFIN/JournalEntryCreateRequestConfirmation_In/"
    "JournalEntryCreateRequestConfirmation_InRequest"
)
CLEARING_ACTION = (
    "http://sap.com/xi/SAPSCORE/SFIN/JournalEntryBulkClearingRequest_In/"
    "JournalEntryBulkClearingRequest_InRequest"
)
ERROR_SEVERITY = 3  # LogItemSeverityCode: 1 info, 2 warning, 3 error, 4 abort


def _sub(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text if isinstance(text, str) else str(text)
    return element


def _amount(value: Decimal) -> str:
    return f"{value:f}"


def _message_header(parent: etree._Element, now: datetime) -> None:
    header = _sub(parent, "MessageHeader")
    _sub(header, "ID", uuid.uuid4().hex[:35].upper())
    _sub(header, "CreationDateTime", now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _envelope(body_root: str) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11, "sfin": SFIN})
    etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    return envelope, etree.SubElement(body, f"{{{SFIN}}}{body_root}")


@dataclass(frozen=True)
class JournalHeader:
    company_code: str
    document_type: str
    reference: str  # DocumentReferenceID (XBLNR)
    header_text: str  # DocumentHeaderText (BKTXT, 25)
    created_by: str
    posting_date: date
    currency: str
    translation_date: date  # ExchangeRateDate: explicit, never SAP's default (posting date)
    exchange_rate: Decimal | None = None


def journal_entry_request(
    header: JournalHeader, lines: list[SapLine], now: datetime | None = None
) -> bytes:
    """One ``JournalEntryCreateRequest`` with G/L items and customer (debtor) items."""
    now = now or datetime.now(UTC)
    envelope, root = _envelope("JournalEntryBulkCreateRequest")
    _message_header(root, now)
    request = _sub(root, "JournalEntryCreateRequest")
    _message_header(request, now)
    entry = _sub(request, "JournalEntry")
    _sub(entry, "OriginalReferenceDocumentType", "BKPFF")
    _sub(entry, "BusinessTransactionType", "RFBU")
    _sub(entry, "AccountingDocumentType", header.document_type)
    _sub(entry, "DocumentReferenceID", header.reference)
    _sub(entry, "DocumentHeaderText", header.header_text[:25])
    _sub(entry, "CreatedByUser", header.created_by[:12])
    _sub(entry, "CompanyCode", header.company_code)
    _sub(entry, "DocumentDate", header.posting_date.isoformat())
    _sub(entry, "PostingDate", header.posting_date.isoformat())
    _sub(entry, "ExchangeRateDate", header.translation_date.isoformat())
    if header.exchange_rate is not None:
        _sub(entry, "ExchangeRate", f"{header.exchange_rate:f}")
    number = 0
    for line in (x for x in lines if x.kind == "gl"):
        number += 1
        item = _sub(entry, "Item")
        _sub(item, "ReferenceDocumentItem", number)
        _sub(item, "GLAccount", line.account)
        _sub(
            item, "AmountInTransactionCurrency", _amount(line.amount), currencyCode=header.currency
        )
        _sub(item, "DebitCreditCode", "S" if line.amount > 0 else "H")
        _sub(item, "DocumentItemText", line.text[:50])
        if line.reason_code:
            _sub(item, "ReasonCode", line.reason_code)
        if line.assignment:
            _sub(item, "AssignmentReference", line.assignment[:18])
        _sub(item, "ValueDate", header.posting_date.isoformat())
    for line in (x for x in lines if x.kind == "customer"):
        number += 1
        item = _sub(entry, "DebtorItem")
        _sub(item, "ReferenceDocumentItem", number)
        _sub(item, "Debtor", line.account)
        _sub(
            item, "AmountInTransactionCurrency", _amount(line.amount), currencyCode=header.currency
        )
        _sub(item, "DebitCreditCode", "S" if line.amount > 0 else "H")
        _sub(item, "DocumentItemText", line.text[:50])
        if line.assignment:
            _sub(item, "AssignmentReference", line.assignment[:18])
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


@dataclass(frozen=True)
class DocumentKey:
    company_code: str
    fiscal_year: str
    document: str
    item: str

    @property
    def invoice_id(self) -> str:
        return f"{self.fiscal_year}-{self.document}-{self.item}"


def clearing_request(
    company_code: str,
    document_type: str,
    posting_date: date,
    currency: str,
    customer: str,
    items: list[DocumentKey],
    created_by: str,
    header_text: str,
    now: datetime | None = None,
) -> bytes:
    """Clear customer items chosen by document key; the clearing date is the PostingDate."""
    now = now or datetime.now(UTC)
    envelope, root = _envelope("JournalEntryBulkClearingRequest")
    _message_header(root, now)
    request = _sub(root, "JournalEntryClearingRequest")
    _message_header(request, now)
    entry = _sub(request, "JournalEntry")
    _sub(entry, "CompanyCode", company_code)
    _sub(entry, "AccountingDocumentType", document_type)
    _sub(entry, "DocumentDate", posting_date.isoformat())
    _sub(entry, "PostingDate", posting_date.isoformat())
    _sub(entry, "CurrencyCode", currency)
    _sub(entry, "CurrencyTranslationDate", posting_date.isoformat())
    _sub(entry, "DocumentHeaderText", header_text[:25])
    _sub(entry, "CreatedByUser", created_by[:12])
    for number, key in enumerate(items, start=1):
        item = _sub(entry, "APARItems")
        _sub(item, "ReferenceDocumentItem", number)
        _sub(item, "CompanyCode", key.company_code)
        _sub(item, "AccountType", "D")
        _sub(item, "APARAccount", customer)
        _sub(item, "FiscalYear", key.fiscal_year)
        _sub(item, "AccountingDocument", key.document)
        _sub(item, "AccountingDocumentItem", key.item)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


@dataclass(frozen=True)
class Confirmation:
    accounting_document: str | None
    company_code: str | None
    fiscal_year: str | None
    max_severity: int
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.accounting_document and self.accounting_document.strip("0"))


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def parse_confirmation(content: bytes) -> Confirmation:
    """First ``JournalEntryCreateConfirmation`` of a bulk confirmation (we send one entry)."""
    root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    found: dict[str, str] = {}
    severities: list[int] = []
    notes: list[str] = []
    for element in root.iter():
        name = _local(element)
        if name in ("AccountingDocument", "CompanyCode", "FiscalYear") and name not in found:
            found[name] = (element.text or "").strip()
        elif name in ("MaximumLogItemSeverityCode", "MaximumSeverityCode", "SeverityCode"):
            try:
                severities.append(int((element.text or "0").strip()))
            except ValueError:
                severities.append(ERROR_SEVERITY)
        elif name == "Note" and element.text:
            notes.append(element.text.strip())
    return Confirmation(
        found.get("AccountingDocument"),
        found.get("CompanyCode"),
        found.get("FiscalYear"),
        max(severities, default=0),
        tuple(dict.fromkeys(notes)),
    )


def soap_fault(content: bytes) -> tuple[bool, str] | None:
    """(the sender's fault?, text) of a SOAP fault answer, None if it is not one. Client
    (1.1) / Sender (1.2) faults are the request's fault: retrying will not help."""
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return None
    code, text = "", None
    for element in root.iter():
        if _local(element) in ("faultcode", "Value") and not code:
            code = (element.text or "").strip()
        elif _local(element) in ("faultstring", "Text") and text is None:
            text = (element.text or "").strip()
    if text is None:
        return None
    return code.endswith(("Client", "Sender")), text
