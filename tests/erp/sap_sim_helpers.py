"""Shared helpers for the SAP simulator tests: SAP's reference folder, sessions, requests.

SAP's definitions live outside the repository (../shared/reference/sap, or
$PAYBRIDGE_SAP_REFERENCE); conformance tests skip with a message when they are absent.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from simulators.sap import DEFAULT_PASSWORD, DEFAULT_USER, SAPSimulator

REPO = Path(__file__).resolve().parents[2]
CUBE = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/"
CREATE = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
CLEARING = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques"
RFC = "/sap/bc/soap/rfc"
SFIN = "http://sap.com/xi/SAPSCORE/SFIN"


def reference_dir() -> Path:
    """SAP's reference definitions, or a skip saying where they were looked for."""
    folder = Path(os.environ.get("PAYBRIDGE_SAP_REFERENCE") or REPO.parent / "shared/reference/sap")
    if not (folder / "API_OPLACCTGDOCITEMCUBE_SRV.edmx").is_file():
        pytest.skip(
            f"SAP reference definitions not found in {folder} (set PAYBRIDGE_SAP_REFERENCE to "
            "the folder holding SAP's edmx/WSDL/BAPI dumps to run the conformance tests)"
        )
    return folder


def session(user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD) -> requests.Session:
    http = requests.Session()
    http.auth = (user, password)
    http.headers["sap-client"] = "100"
    return http


def cube(
    sim: SAPSimulator, http: requests.Session | None = None, **params: str
) -> requests.Response:
    return (http or session()).get(
        f"{sim.base_url}{CUBE}A_OperationalAcctgDocItemCube", params={"$format": "json", **params}
    )


def soap_envelope(payload: str) -> bytes:
    return (
        '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap-env:Header/><soap-env:Body>{payload}</soap-env:Body></soap-env:Envelope>"
    ).encode()


def journal_entry(
    company: str = "1010",
    currency: str = "EUR",
    gl_account: str = "11002000",
    customer: str = "17100001",
    amount: str = "1190.00",
    posting_date: date | None = None,
    reference: str = "SETTLE-1",
    assignment: str = "INV-1",
    header_extra: str = "",
    gl_amount: str | None = None,
) -> str:
    """A JournalEntryBulkCreateRequest payload: debit a G/L account, credit a customer."""
    when = (posting_date or datetime.now(UTC).date()).isoformat()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<n0:JournalEntryBulkCreateRequest xmlns:n0="{SFIN}">'
        f"<MessageHeader><ID>MSG-{reference}</ID><CreationDateTime>{stamp}</CreationDateTime>"
        f"</MessageHeader><JournalEntryCreateRequest><MessageHeader>"
        f"<ID>SUB-{reference}</ID><CreationDateTime>{stamp}</CreationDateTime></MessageHeader>"
        "<JournalEntry><OriginalReferenceDocumentType>BKPFF</OriginalReferenceDocumentType>"
        "<BusinessTransactionType>RFBU</BusinessTransactionType>"
        "<AccountingDocumentType>DZ</AccountingDocumentType>"
        f"<DocumentReferenceID>{reference}</DocumentReferenceID>{header_extra}"
        f"<CreatedByUser>PAYBRIDGE</CreatedByUser><CompanyCode>{company}</CompanyCode>"
        f"<DocumentDate>{when}</DocumentDate><PostingDate>{when}</PostingDate>"
        f"<Item><GLAccount>{gl_account}</GLAccount>"
        f'<AmountInTransactionCurrency currencyCode="{currency}">{gl_amount or amount}'
        "</AmountInTransactionCurrency><DebitCreditCode>S</DebitCreditCode></Item>"
        f"<DebtorItem><ReferenceDocumentItem>2</ReferenceDocumentItem><Debtor>{customer}</Debtor>"
        f'<AmountInTransactionCurrency currencyCode="{currency}">-{amount}'
        "</AmountInTransactionCurrency><DebitCreditCode>H</DebitCreditCode>"
        f"<AssignmentReference>{assignment}</AssignmentReference></DebtorItem>"
        "</JournalEntry></JournalEntryCreateRequest></n0:JournalEntryBulkCreateRequest>"
    )


def post_soap(
    sim: SAPSimulator, path: str, payload: str, http: requests.Session | None = None
) -> requests.Response:
    return (http or session()).post(
        f"{sim.base_url}{path}",
        data=soap_envelope(payload),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )


def confirmation(response: requests.Response) -> dict[str, str]:
    """AccountingDocument, FiscalYear, MaximumLogItemSeverityCode and the notes of one entry."""
    from lxml import etree

    root = etree.fromstring(response.content)
    entry = root.find(
        f".//{{{SFIN}}}JournalEntryBulkCreateConfirmation/JournalEntryCreateConfirmation"
    )
    return {
        "AccountingDocument": entry.findtext("JournalEntryCreateConfirmation/AccountingDocument"),
        "FiscalYear": entry.findtext("JournalEntryCreateConfirmation/FiscalYear"),
        "Severity": entry.findtext("Log/MaximumLogItemSeverityCode"),
        "Notes": " | ".join(n.text for n in entry.iterfind("Log/Item/Note")),
    }


def clearing_request(
    company: str, posting_date: date, items: list[tuple[str, str, str, str]]
) -> str:
    """JournalEntryBulkClearingRequest over (fiscal year, document, item, customer) keys."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    apar = "".join(
        f"<APARItems><CompanyCode>{company}</CompanyCode><AccountType>D</AccountType>"
        f"<APARAccount>{customer}</APARAccount><FiscalYear>{year}</FiscalYear>"
        f"<AccountingDocument>{doc}</AccountingDocument>"
        f"<AccountingDocumentItem>{item}</AccountingDocumentItem></APARItems>"
        for year, doc, item, customer in items
    )
    return (
        f'<n0:JournalEntryBulkClearingRequest xmlns:n0="{SFIN}"><MessageHeader>'
        f"<CreationDateTime>{stamp}</CreationDateTime></MessageHeader>"
        f"<JournalEntryClearingRequest><MessageHeader><ID>CLR-1</ID>"
        f"<CreationDateTime>{stamp}</CreationDateTime></MessageHeader><JournalEntry>"
        f"<CompanyCode>{company}</CompanyCode><AccountingDocumentType>DZ</AccountingDocumentType>"
        f"<DocumentDate>{posting_date}</DocumentDate><PostingDate>{posting_date}</PostingDate>"
        f"<CurrencyCode>EUR</CurrencyCode><CreatedByUser>PAYBRIDGE</CreatedByUser>{apar}"
        "</JournalEntry></JournalEntryClearingRequest></n0:JournalEntryBulkClearingRequest>"
    )


def rfc_call(function: str, body: str) -> str:
    namespace = "urn:sap-com:document:sap:rfc:functions"
    return f'<urn:{function} xmlns:urn="{namespace}">{body}</urn:{function}>'


def bapi_post_body(
    company: str = "1010",
    currency: str = "EUR",
    gl_account: str = "0011002000",
    customer: str = "0017100001",
    amount: str = "1190.00",
    reference: str = "SETTLE-1",
    assignment: str = "INV-1",
    posting_date: date | None = None,
) -> str:
    when = (posting_date or datetime.now(UTC).date()).isoformat()
    return (
        f"<DOCUMENTHEADER><BUS_ACT>RFBU</BUS_ACT><USERNAME>PAYBRIDGE</USERNAME>"
        f"<COMP_CODE>{company}</COMP_CODE><DOC_DATE>{when}</DOC_DATE><PSTNG_DATE>{when}</PSTNG_DATE>"
        f"<DOC_TYPE>DZ</DOC_TYPE><REF_DOC_NO>{reference}</REF_DOC_NO></DOCUMENTHEADER>"
        f"<ACCOUNTGL><item><ITEMNO_ACC>0000000001</ITEMNO_ACC><GL_ACCOUNT>{gl_account}</GL_ACCOUNT>"
        f"</item></ACCOUNTGL>"
        f"<ACCOUNTRECEIVABLE><item><ITEMNO_ACC>0000000002</ITEMNO_ACC><CUSTOMER>{customer}</CUSTOMER>"
        f"<ALLOC_NMBR>{assignment}</ALLOC_NMBR></item></ACCOUNTRECEIVABLE>"
        f"<CURRENCYAMOUNT><item><ITEMNO_ACC>0000000001</ITEMNO_ACC><CURRENCY>{currency}</CURRENCY>"
        f"<AMT_DOCCUR>{amount}</AMT_DOCCUR></item><item><ITEMNO_ACC>0000000002</ITEMNO_ACC>"
        f"<CURRENCY>{currency}</CURRENCY><AMT_DOCCUR>-{amount}</AMT_DOCCUR></item></CURRENCYAMOUNT>"
        "<RETURN/>"
    )


def rfc_return(response: requests.Response) -> list[dict[str, str]]:
    from lxml import etree

    root = etree.fromstring(response.content)
    rows = root.findall(".//RETURN/item")
    return [{child.tag: child.text or "" for child in row} for row in rows]


def rfc_export(response: requests.Response, name: str) -> str:
    from lxml import etree

    return etree.fromstring(response.content).findtext(f".//{name}") or ""


ZERO = Decimal(0)
