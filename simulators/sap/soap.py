"""SOAP services: JournalEntryCreateRequestConfirmation_In (sync) and
JournalEntryBulkClearingRequest_In (async). Requests are validated against SAP's schema first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from simulators.sap.ledger import DocumentKey, Ledger, PostingLine, PostingRequest, alpha
from simulators.sap.messages import Message
from simulators.sap.schemas import CLEARING_XSD_FILE, CREATE_XSD_FILE

SFIN = "http://sap.com/xi/SAPSCORE/SFIN"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CREATE_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
CLEARING_PATH = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques"
SEVERITY = {"S": "1", "I": "1", "W": "2", "E": "3", "A": "4"}


class SoapFault(Exception):
    """Answered as a SOAP fault (HTTP 500), as SAP's SOAP runtime does for rejected messages."""

    def __init__(self, code: str, text: str, detail: str = "") -> None:
        super().__init__(text)
        self.code, self.text, self.detail = code, text, detail


@cache
def _schema(path: str) -> Any:
    from lxml import etree

    return etree.XMLSchema(etree.parse(path))


def parse_envelope(body: bytes, expected_root: str, schema_file: str) -> tuple[Any, str]:
    """The validated payload element and the SOAP version's namespace."""
    from lxml import etree

    try:
        envelope = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", "XML parse error", str(exc)) from exc
    soap_ns = etree.QName(envelope).namespace
    if etree.QName(envelope).localname != "Envelope" or soap_ns not in (SOAP11, SOAP12):
        raise SoapFault("Client", "Not a SOAP envelope", f"root element {envelope.tag}")
    soap_body = envelope.find(f"{{{soap_ns}}}Body")
    payload = (
        [child for child in soap_body if isinstance(child.tag, str)]
        if soap_body is not None
        else []
    )
    if len(payload) != 1:
        raise SoapFault("Client", "SOAP Body must hold exactly one element", "")
    element = payload[0]
    if element.tag != f"{{{SFIN}}}{expected_root}":
        raise SoapFault(
            "Client", "Web service processing error", f"unexpected root element {element.tag}"
        )
    schema = _schema(schema_file)
    document = etree.ElementTree(_detached(element))
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise SoapFault(
            "Client",
            "Web service processing error; more details in the web service error log on "
            f"provider side (UTC timestamp {datetime.now(UTC):%Y%m%d%H%M%S}; "
            f"Transaction ID {uuid.uuid4().hex.upper()})",
            f"line {error.line}: {error.message}",
        )
    return document.getroot(), soap_ns


def _detached(element: Any) -> Any:
    import copy

    return copy.deepcopy(element)


def _text(node: Any, path: str, default: str = "") -> str:
    found = node.find(path)
    return found.text.strip() if found is not None and found.text else default


def _date(node: Any, path: str) -> date | None:
    text = _text(node, path)
    return date.fromisoformat(text) if text else None


def _amount(node: Any, path: str) -> tuple[Decimal, str] | None:
    found = node.find(path)
    if found is None:
        return None
    return Decimal(found.text.strip()), found.get("currencyCode", "")


# ---------------------------------------------------------------- create (synchronous)
def create_journal_entries(ledger: Ledger, body: bytes) -> tuple[bytes, str]:
    root, soap_ns = parse_envelope(body, "JournalEntryBulkCreateRequest", str(CREATE_XSD_FILE))
    from lxml import etree

    out = etree.Element(f"{{{SFIN}}}JournalEntryBulkCreateConfirmation", nsmap={"n0": SFIN})
    _header(out, _text(root, "MessageHeader/ID"))
    etree.SubElement(
        out, "ConfirmationInterfaceOrignName"
    ).text = "JournalEntryCreateConfirmation_Out"
    worst = "S"
    # SAP KBA 3291244: TestDataIndicator on the request level is a test run (nothing posted, no
    # number used); on one entry only, that entry takes a number without being posted (a gap).
    test_run = _text(root, "MessageHeader/TestDataIndicator") == "true"
    for request in root.findall("JournalEntryCreateRequest"):
        confirmation = etree.SubElement(out, "JournalEntryCreateConfirmation")
        _header(confirmation, _text(request, "MessageHeader/ID"))
        posting, messages = _posting_request(request.find("JournalEntry"))
        document = None
        entry_test = _text(request, "MessageHeader/TestDataIndicator") == "true"
        if posting is not None and (test_run or entry_test):
            messages = ledger.check(posting)
            if entry_test and not test_run and _worst(messages) not in "EA":
                ledger.reserve_number(posting.company_code, str(posting.posting_date.year))
            if _worst(messages) not in "EA":
                messages = [*messages, Message("S", "RW", "614", "Document check without errors")]
        elif posting is not None:
            document, messages = ledger.post(posting, committed=True)
        entry = etree.SubElement(confirmation, "JournalEntryCreateConfirmation")
        etree.SubElement(entry, "AccountingDocument").text = (
            document.number if document else "0000000000"
        )
        etree.SubElement(entry, "CompanyCode").text = (
            posting.company_code if posting else _text(request, "JournalEntry/CompanyCode")
        )
        etree.SubElement(entry, "FiscalYear").text = document.fiscal_year if document else "0000"
        if document is not None:
            awkey = f"{document.number}{document.company_code}{document.fiscal_year}"
            messages = [
                *messages,
                Message(
                    "S", "RW", "605", f"Document posted successfully: BKPFF {awkey} SIMCLNT100"
                ),
            ]
        worst = max(worst, _worst(messages), key=lambda t: SEVERITY[t])
        _log(confirmation, messages)
    _log(out, [], maximum=worst)
    return _envelope(out, soap_ns), soap_ns


def _posting_request(entry: Any) -> tuple[PostingRequest | None, list[Message]]:
    lines: list[PostingLine] = []
    currencies: list[str] = []
    problems: list[Message] = []
    for index, item in enumerate([*entry.findall("Item"), *entry.findall("DebtorItem")], start=1):
        is_gl = item.tag == "Item"
        amount, currency_code = _amount(item, "AmountInTransactionCurrency") or (Decimal(0), "")
        local = _amount(item, "AmountInCompanyCodeCurrency")
        code = _text(item, "DebitCreditCode")
        if code and (code == "S") != (amount > 0):
            problems.append(
                Message(
                    "E",
                    "FINS_FI_POSTING_IF",
                    "000",
                    f"Debit/credit code {code} does not match the sign of amount {amount} "
                    f"in item {index}",
                )
            )
        currencies.append(currency_code)
        lines.append(
            PostingLine(
                account_type="S" if is_gl else "D",
                account=alpha(_text(item, "GLAccount" if is_gl else "Debtor")),
                amount=amount,
                local_amount=local[0] if local else None,
                assignment=_text(item, "AssignmentReference"),
                text=_text(item, "DocumentItemText"),
                reason_code=_text(item, "ReasonCode"),
            )
        )
    for index, code in enumerate(currencies[1:], start=2):
        if code != currencies[0]:
            problems.append(
                Message(
                    "E",
                    "FINS_FI_POSTING_IF",
                    "005",
                    f"Transaction currencies in item 1 and item {index} differ",
                )
            )
    if not lines:
        problems.append(Message("E", "FINS_FI_POSTING_IF", "008", "Item information missing"))
    if problems:
        return None, problems
    period = _text(entry, "PostingFiscalPeriod")
    rate = _text(entry, "ExchangeRate")
    return (
        PostingRequest(
            company_code=_text(entry, "CompanyCode"),
            document_type=_text(entry, "AccountingDocumentType"),
            posting_date=_date(entry, "PostingDate") or date.today(),
            document_date=_date(entry, "DocumentDate") or date.today(),
            currency=currencies[0],
            lines=lines,
            reference=_text(entry, "DocumentReferenceID"),
            header_text=_text(entry, "DocumentHeaderText"),
            created_by=_text(entry, "CreatedByUser"),
            exchange_rate=Decimal(rate) if rate else None,
            fiscal_period=int(period) if period else None,
            object_key=_text(entry, "OriginalReferenceDocument"),
        ),
        [],
    )


def _worst(messages: list[Message]) -> str:
    return max((m.type for m in messages), key=lambda t: SEVERITY[t], default="S")


def _header(parent: Any, reference_id: str) -> None:
    from lxml import etree

    header = etree.SubElement(parent, "MessageHeader")
    etree.SubElement(header, "UUID").text = str(uuid.uuid4())
    if reference_id:
        etree.SubElement(header, "ReferenceID").text = reference_id
    etree.SubElement(header, "CreationDateTime").text = datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def _log(parent: Any, messages: list[Message], maximum: str | None = None) -> None:
    from lxml import etree

    log = etree.SubElement(parent, "Log")
    etree.SubElement(log, "MaximumLogItemSeverityCode").text = SEVERITY[maximum or _worst(messages)]
    for message in messages:
        item = etree.SubElement(log, "Item")
        etree.SubElement(item, "TypeID").text = f"{message.number}({message.id})"[:40]
        etree.SubElement(item, "SeverityCode").text = SEVERITY[message.type]
        etree.SubElement(item, "Note").text = message.text[:200]


def _envelope(payload: Any, soap_ns: str) -> bytes:
    from lxml import etree

    envelope = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap-env": soap_ns})
    etree.SubElement(envelope, f"{{{soap_ns}}}Header")
    etree.SubElement(envelope, f"{{{soap_ns}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def fault_envelope(fault: SoapFault, soap_ns: str = SOAP11) -> bytes:
    from lxml import etree

    envelope = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap-env": soap_ns})
    etree.SubElement(envelope, f"{{{soap_ns}}}Header")
    body = etree.SubElement(envelope, f"{{{soap_ns}}}Body")
    node = etree.SubElement(body, f"{{{soap_ns}}}Fault")
    if soap_ns == SOAP12:
        code = etree.SubElement(etree.SubElement(node, f"{{{soap_ns}}}Code"), f"{{{soap_ns}}}Value")
        code.text = f"soap-env:{'Sender' if fault.code == 'Client' else 'Receiver'}"
        reason = etree.SubElement(
            etree.SubElement(node, f"{{{soap_ns}}}Reason"), f"{{{soap_ns}}}Text"
        )
        reason.text = fault.text
        detail = etree.SubElement(node, f"{{{soap_ns}}}Detail")
    else:
        etree.SubElement(node, "faultcode").text = f"soap-env:{fault.code}"
        etree.SubElement(node, "faultstring").text = fault.text
        detail = etree.SubElement(node, "detail")
    etree.SubElement(detail, "validationError").text = fault.detail
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


# ---------------------------------------------------------------- clearing (asynchronous)
@dataclass
class ClearingJob:
    message_id: str
    company_code: str
    posting_date: date
    document_type: str
    created_by: str
    keys: list[DocumentKey]
    refused: str = ""  # set when the simulator cannot apply it (kept for the test log)


def parse_clearing(body: bytes) -> list[ClearingJob]:
    """Schema-valid clearing requests; business checks run later, when the job is applied."""
    root, _ = parse_envelope(body, "JournalEntryBulkClearingRequest", str(CLEARING_XSD_FILE))
    jobs = []
    for request in root.findall("JournalEntryClearingRequest"):
        entry = request.find("JournalEntry")
        keys, refused = [], ""
        for item in entry.findall("APARItems"):
            if _text(item, "AccountType") != "D":
                refused = f"account type {_text(item, 'AccountType')} is not modelled (only D)"
            for name in (
                "PartialPaymentAmtInDspCrcy",
                "CashDiscountAmountInDspCrcy",
                "OtherDeductionAmountInDspCrcy",
            ):
                if item.find(name) is not None:
                    refused = f"{name} is valid for SAP but not modelled by the simulator"
            keys.append(
                DocumentKey(
                    _text(item, "CompanyCode"),
                    _text(item, "FiscalYear"),
                    alpha(_text(item, "AccountingDocument")),
                    _text(item, "AccountingDocumentItem").zfill(3)[-3:],
                )
            )
        for item in entry.findall("GLItems"):
            keys.append(
                DocumentKey(
                    _text(item, "CompanyCode"),
                    _text(item, "FiscalYear"),
                    alpha(_text(item, "AccountingDocument")),
                    _text(item, "AccountingDocumentItem").zfill(3)[-3:],
                )
            )
        jobs.append(
            ClearingJob(
                message_id=_text(request, "MessageHeader/ID"),
                company_code=_text(entry, "CompanyCode"),
                posting_date=_date(entry, "PostingDate") or date.today(),
                document_type=_text(entry, "AccountingDocumentType"),
                created_by=_text(entry, "CreatedByUser"),
                keys=keys,
                refused=refused,
            )
        )
    return jobs
