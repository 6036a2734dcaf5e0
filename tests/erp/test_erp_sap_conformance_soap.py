"""The simulator's SOAP services against SAP's real WSDL and clearing proxy types.

Skipped with a message when SAP's reference folder is absent (see sap_sim_helpers).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sap_sim_helpers import CREATE, journal_entry, post_soap, reference_dir, session

from simulators.sap import SAPSimulator
from simulators.sap.schemas import derive
from simulators.sap.soap import CLEARING_XSD_FILE

XS = "{http://www.w3.org/2001/XMLSchema}"
SFIN = "http://sap.com/xi/SAPSCORE/SFIN"


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator() as simulator:
        yield simulator


def real_wsdl() -> Path:
    return reference_dir() / derive.REAL_WSDL


def real_schema() -> etree.XMLSchema:
    schema = etree.parse(str(real_wsdl())).find(f".//{XS}schema")
    return etree.XMLSchema(etree.ElementTree(copy.deepcopy(schema)))


def test_create_schema_subset_is_exactly_the_derivation_of_sap_wsdl() -> None:
    assert derive.derive_create_xsd(real_wsdl().read_bytes()) == derive.CREATE_XSD_FILE.read_bytes()


def test_every_subset_element_has_sap_name_type_cardinality_and_order() -> None:
    real = etree.parse(str(real_wsdl())).find(f".//{XS}schema")
    real_types = {t.get("name"): t for t in real if t.get("name")}
    served = etree.parse(str(derive.CREATE_XSD_FILE)).getroot()
    for served_type in served:
        twin = real_types[served_type.get("name")]
        mine = [dict(e.attrib) for e in served_type.iter(f"{XS}element")]
        kept = {m["name"] for m in mine}
        theirs = [dict(e.attrib) for e in twin.iter(f"{XS}element") if e.get("name") in kept]
        assert mine == theirs, served_type.get("name")
        assert [dict(a.attrib) for a in served_type.iter(f"{XS}attribute")] == [
            dict(a.attrib) for a in twin.iter(f"{XS}attribute")
        ]


def _zeep_request(sim: SAPSimulator) -> bytes:
    """A request serialised by zeep from SAP's own WSDL (a real-shaped message)."""
    import zeep

    client = zeep.Client(str(real_wsdl()))
    service = client.create_service(f"{{{SFIN}}}binding", f"{sim.base_url}{CREATE}")
    now = datetime.now(UTC)
    entry = {
        "OriginalReferenceDocumentType": "BKPFF",
        "BusinessTransactionType": "RFBU",
        "AccountingDocumentType": "DZ",
        "DocumentReferenceID": "ZEEP-1",
        "CreatedByUser": "PAYBRIDGE",
        "CompanyCode": "1010",
        "DocumentDate": now.date(),
        "PostingDate": now.date(),
        "Item": [
            {
                "GLAccount": {"_value_1": "0011002000"},
                "AmountInTransactionCurrency": {
                    "_value_1": Decimal("10.00"),
                    "currencyCode": "EUR",
                },
                "DebitCreditCode": "S",
            }
        ],
        "DebtorItem": [
            {
                "ReferenceDocumentItem": "2",
                "Debtor": "0017100001",
                "AmountInTransactionCurrency": {
                    "_value_1": Decimal("-10.00"),
                    "currencyCode": "EUR",
                },
                "DebitCreditCode": "H",
                "AssignmentReference": "INV-9",
            }
        ],
    }
    node = client.create_message(
        service,
        "JournalEntryCreateRequestConfirmation_In",
        MessageHeader={"CreationDateTime": now},
        JournalEntryCreateRequest=[
            {"MessageHeader": {"CreationDateTime": now}, "JournalEntry": entry}
        ],
    )
    return etree.tostring(node)


def test_a_request_serialised_from_sap_wsdl_is_accepted(sim: SAPSimulator) -> None:
    answer = session().post(
        f"{sim.base_url}{CREATE}",
        data=_zeep_request(sim),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    assert answer.status_code == 200, answer.text
    assert [d.reference for d in sim.ledger.committed_documents()] == ["ZEEP-1"]


def test_the_confirmation_is_valid_against_sap_full_schema(sim: SAPSimulator) -> None:
    schema = real_schema()
    for payload in (journal_entry(), journal_entry(customer="17100009")):
        answer = post_soap(sim, CREATE, payload)
        body = etree.fromstring(answer.content).find(
            "{http://schemas.xmlsoap.org/soap/envelope/}Body"
        )[0]
        assert schema.validate(etree.ElementTree(copy.deepcopy(body))), schema.error_log


def test_zeep_reads_the_confirmation_with_sap_wsdl(sim: SAPSimulator) -> None:
    import zeep
    from zeep.transports import Transport

    client = zeep.Client(str(real_wsdl()), transport=Transport(session=session()))
    service = client.create_service(f"{{{SFIN}}}binding", f"{sim.base_url}{CREATE}")
    now = datetime.now(UTC)
    header = {"CreationDateTime": now}
    result = service.JournalEntryCreateRequestConfirmation_In(
        MessageHeader=header,
        JournalEntryCreateRequest=[
            {"MessageHeader": header, "JournalEntry": _gl_only_entry("1010", now)}
        ],
    )
    confirmation = result.JournalEntryCreateConfirmation[0].JournalEntryCreateConfirmation
    assert (confirmation.CompanyCode, confirmation.AccountingDocument) == ("1010", "0100000000")


def test_unknown_and_misplaced_elements_fail_sap_schema_and_the_simulator(
    sim: SAPSimulator,
) -> None:
    schema = real_schema()
    good = journal_entry()
    unknown = journal_entry(header_extra="<InvoiceNumber>1</InvoiceNumber>")
    misplaced = good.replace(
        "<CreatedByUser>PAYBRIDGE</CreatedByUser><CompanyCode>1010</CompanyCode>",
        "<CompanyCode>1010</CompanyCode><CreatedByUser>PAYBRIDGE</CreatedByUser>",
    )
    assert schema.validate(etree.ElementTree(etree.fromstring(good)))
    for payload in (unknown, misplaced):
        assert not schema.validate(etree.ElementTree(etree.fromstring(payload)))
        assert post_soap(sim, CREATE, payload).status_code == 500
    assert sim.ledger.committed_documents() == []


# ------------------------------------------------------------------ clearing (no WSDL is public)
def _abap_name(xml_name: str) -> str:
    """Read back how SAP's proxy generator names an XML element (UPPER_SNAKE, cut to 30)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", xml_name).upper()[:30].rstrip("_")


def _proxy_structures(folder: Path) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for path in folder.glob("*.tabl.xml"):
        tree = etree.parse(str(path))
        name = tree.findtext(".//DD02V/TABNAME")
        out[name] = [
            (f.findtext("FIELDNAME"), f.findtext("ROLLNAME") or "")
            for f in tree.iter("DD03P")
            if f.findtext("FIELDNAME") != "CONTROLLER"
        ]
    for path in folder.glob("*.ttyp.xml"):
        tree = etree.parse(str(path))
        out[tree.findtext(".//TYPENAME")] = [("*row", tree.findtext(".//ROWTYPE"))]
    return out


def _lengths(folder: Path) -> dict[str, tuple[str, int, int]]:
    out = {}
    for path in folder.glob("*.dtel.xml"):
        node = etree.parse(str(path)).find(".//DD04V")
        out[node.findtext("ROLLNAME")] = (
            node.findtext("DATATYPE") or "",
            int(node.findtext("LENG") or 0),
            int(node.findtext("DECIMALS") or 0),
        )
    return out


def test_clearing_schema_matches_sap_proxy_types_in_names_order_and_lengths() -> None:
    folder = reference_dir() / "JournalEntryBulkClearingRequest_In.abap-proxy"
    structures, lengths = _proxy_structures(folder), _lengths(folder)
    xsd = etree.parse(str(CLEARING_XSD_FILE)).getroot()
    types = {t.get("name"): t for t in xsd}
    checked = 0

    def walk(type_name: str, structure: str) -> None:
        nonlocal checked
        fields = structures[structure]
        if fields and fields[0][0] == "*row":  # table type: the element repeats its row
            walk(type_name, fields[0][1])
            return
        names = [f for f, _ in fields]
        elements = list(types[type_name].iter(f"{XS}element"))
        positions = [names.index(_abap_name(e.get("name"))) for e in elements]
        assert positions == sorted(positions), f"{type_name}: order differs from {structure}"
        for element in elements:
            roll = dict(fields)[_abap_name(element.get("name"))]
            child = element.get("type")
            checked += 1
            if child in types and types[child].tag == f"{XS}complexType" and roll in structures:
                if types[child].find(f"{XS}sequence") is not None:
                    walk(child, roll)
                continue
            if roll in lengths and child in types:
                kind, length, decimals = lengths[roll]
                facets = {f.tag.replace(XS, ""): f.get("value") for f in types[child].iter()}
                if kind == "CHAR":
                    assert facets.get("maxLength") == str(length), element.get("name")
                if kind == "DEC":
                    assert (facets["totalDigits"], facets["fractionDigits"]) == (
                        str(length),
                        str(decimals),
                    )

    walk("JournalEntryBulkClearingRequestMessage", "ZSCM_001JOURNAL_ENTRY_CLEARIN4")
    assert checked >= 40


def test_clearing_root_is_the_proxy_root() -> None:
    folder = reference_dir() / "JournalEntryBulkClearingRequest_In.abap-proxy"
    root = _proxy_structures(folder)["ZSCM_001JOURNAL_ENTRY_BULK_CLE"]
    xsd = etree.parse(str(CLEARING_XSD_FILE)).getroot()
    element = xsd.find(f"{XS}element")
    assert _abap_name(element.get("name")) == root[0][0]  # JOURNAL_ENTRY_BULK_CLEARING_RE


def _gl_only_entry(company: str, now: datetime) -> dict[str, object]:
    def item(account: str, amount: str) -> dict[str, object]:
        money = {"_value_1": Decimal(amount), "currencyCode": "EUR"}
        return {"GLAccount": {"_value_1": account}, "AmountInTransactionCurrency": money}

    return {
        "OriginalReferenceDocumentType": "BKPFF",
        "BusinessTransactionType": "RFBU",
        "AccountingDocumentType": "SA",
        "CreatedByUser": "PAYBRIDGE",
        "CompanyCode": company,
        "DocumentDate": now.date(),
        "PostingDate": now.date(),
        "Item": [item("11002000", "5"), item("11003000", "-5")],
    }


def test_soap12_binding_of_sap_wsdl_works_too(sim: SAPSimulator) -> None:
    import zeep
    from zeep.transports import Transport

    client = zeep.Client(str(real_wsdl()), transport=Transport(session=session()))
    service = client.create_service(f"{{{SFIN}}}binding_soap12", f"{sim.base_url}{CREATE}")
    now = datetime.now(UTC)
    header = {"CreationDateTime": now}
    result = service.JournalEntryCreateRequestConfirmation_In(
        MessageHeader=header,
        JournalEntryCreateRequest=[
            {"MessageHeader": header, "JournalEntry": _gl_only_entry("9999", now)}
        ],
    )
    entry = result.JournalEntryCreateConfirmation[0]
    assert entry.JournalEntryCreateConfirmation.AccountingDocument == "0000000000"
    assert entry.Log.MaximumLogItemSeverityCode == "3"
    assert "Company code 9999 is not defined" in entry.Log.Item[0].Note
