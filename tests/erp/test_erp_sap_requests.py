"""What the SAP connectors send, checked against SAP's own definitions (reference/sap).

Skipped with a message where the reference folder is absent.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from lxml import etree
from paybridge_connectors.erp.protocol import ErpRejectedError
from paybridge_connectors.erp.sap import openitems as oi
from paybridge_connectors.erp.sap.ecc import EccConnector
from paybridge_connectors.erp.sap.journal import document_reference, sap_lines
from paybridge_connectors.erp.sap.posting import plan_posting, settlement_id_from_text
from paybridge_connectors.erp.sap.soap import (
    DocumentKey,
    JournalHeader,
    clearing_request,
    journal_entry_request,
)
from sap_support import REFERENCE, needs_reference, sap_config, settlement

SFIN = "{http://sap.com/xi/SAPSCORE/SFIN}"


def _lookup(amount: str = "1190.00", currency: str = "EUR", cleared: bool = False) -> Any:
    def lookup(company: str, invoice_id: str) -> dict[str, Any]:
        return {
            "Customer": "0017100001",
            "TransactionCurrency": currency,
            "AmountInTransactionCurrency": amount,
            "AssignmentReference": "INV-1001",
            "IsCleared": cleared,
            "ClearingAccountingDocument": "1400000001" if cleared else "",
        }

    return lookup


def test_settlement_maps_to_balanced_sap_lines_with_company_code_accounts() -> None:
    cfg = sap_config()
    s = settlement(extra=Decimal("2.00"))
    plan = plan_posting(cfg, s, _lookup())
    assert sum(x.amount for x in plan.lines) == 0
    by_role = {(x.role, x.account, x.amount) for x in plan.lines}
    assert ("crypto_clearing", "11002000", s.payment_amount) in by_role  # Dr clearing
    assert ("crypto_clearing", "11002000", -s.payment_amount) in by_role  # Cr clearing
    assert ("digital_asset", "11003000", s.payment_amount + Decimal("0.01")) in by_role
    assert ("settlement_gain_loss", "70010000", Decimal("-0.01")) in by_role  # gain account
    write_off = next(x for x in plan.lines if x.role == "write_off")
    assert (write_off.account, write_off.reason_code) == ("70030100", "051")
    customer = [x for x in plan.lines if x.kind == "customer"]
    assert {x.text for x in customer} == {
        f"PB {s.settlement_id}",
        f"PB-W {s.settlement_id}",
        f"PB-C {s.settlement_id}",
    }
    # the invoice's items (applied + written off) carry its assignment and net its open amount
    assert plan.clearable_invoices() == {"2026-0100000000-001": "INV-1001"}
    assert next(x for x in customer if x.purpose == "credit").assignment is None
    assert settlement_id_from_text(f"PB-W {s.settlement_id}") == (s.settlement_id, "write_off")


def test_reference_is_sixteen_characters_and_stable() -> None:
    sid = "pb-pr_0123456789abcdef01234567"
    ref = document_reference(sid)
    assert len(ref) == 16 and ref.startswith("PB") and ref == document_reference(sid)
    assert ref != document_reference(sid + "x")
    assert document_reference("pb-short") == "pb-short"


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        (_lookup(cleared=True), "already cleared by document 1400000001"),
        (_lookup(amount="100.00"), "more than its open amount 100.00"),
        (_lookup(currency="USD"), "is in USD, not EUR"),
        (lambda c, i: None, "does not exist in SAP"),
    ],
)
def test_invoice_items_are_checked_before_posting(lookup: Any, message: str) -> None:
    with pytest.raises(ErpRejectedError, match=message):
        plan_posting(sap_config(), settlement(), lookup)


def test_unconfigured_asset_class_and_company_are_refused_naming_the_key() -> None:
    s = settlement()
    other_class = tuple(
        dataclasses.replace(x, account_key="commodity_token")
        if x.account_role == "digital_asset"
        else x
        for x in s.journal_lines
    )
    with pytest.raises(ErpRejectedError, match=r"'commodity_token' .*accounts.1010.digital_asset"):
        plan_posting(sap_config(), dataclasses.replace(s, journal_lines=other_class), _lookup())
    with pytest.raises(ErpRejectedError, match="company_codes"):
        plan_posting(sap_config(company_codes=("2910",)), settlement(), _lookup())


def _wsdl_schema() -> etree.XMLSchema:
    wsdl = etree.parse(str(REFERENCE / "JOURNALENTRYCREATEREQUESTCONFI.wsdl"))
    xsd = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(xsd)))


def _journal_request(currency: str, amount: Decimal, company: str) -> bytes:
    s = settlement(
        company=company,
        currency=currency,
        invoice_amount=amount,
        short=Decimal(0),
        extra=Decimal(0),
    )
    plan = plan_posting(sap_config(), s, _lookup(f"{amount}", currency))
    header = JournalHeader(
        company,
        "DZ",
        plan.reference,
        plan.header_text,
        "PAYBRIDGE",
        date(2026, 5, 1),
        currency,
        date(2026, 5, 1),
    )
    return journal_entry_request(header, plan.lines)


@needs_reference
@pytest.mark.parametrize(
    ("currency", "amount", "company"),
    [
        ("EUR", Decimal("1190.00"), "1010"),
        ("JPY", Decimal("125000"), "2910"),
        ("KWD", Decimal("12.345"), "4010"),
    ],
)
def test_journal_entry_request_is_valid_against_sap_wsdl(
    currency: str, amount: Decimal, company: str
) -> None:
    schema = _wsdl_schema()
    body = etree.fromstring(_journal_request(currency, amount, company)).find(
        f".//{SFIN}JournalEntryBulkCreateRequest"
    )
    assert schema.validate(body), schema.error_log
    amounts = [e.text for e in body.iter("AmountInTransactionCurrency")]
    assert f"-{amount}" in amounts and str(amount) in amounts  # external format, exact
    # a misplaced element is caught by the same schema (the check can fail)
    entry = body.find(".//JournalEntry")
    entry.insert(0, entry.find("CompanyCode"))
    assert not schema.validate(body)


def _abap_name(xml_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", xml_name).upper()[:30]


@needs_reference
def test_clearing_request_elements_exist_in_sap_proxy_types_in_order() -> None:
    folder = REFERENCE / "JournalEntryBulkClearingRequest_In.abap-proxy"
    fields: dict[str, list[str]] = {}
    for path in folder.glob("*.tabl.xml"):
        root = etree.parse(str(path))
        name = root.findtext(".//DD02V/TABNAME")
        fields[name] = [
            f for f in (e.findtext("FIELDNAME") for e in root.iter("DD03P")) if f != "CONTROLLER"
        ]
    body = etree.fromstring(
        clearing_request(
            "1010",
            "DZ",
            date(2026, 5, 2),
            "EUR",
            "0017100001",
            [
                DocumentKey("1010", "2026", "0100000000", "001"),
                DocumentKey("1010", "2026", "1400000000", "003"),
            ],
            "PAYBRIDGE",
            "PB:x",
        )
    )
    entry = body.find(".//JournalEntry")
    header_fields = fields["ZSCM_001JOURNAL_ENTRY_CLEARIN2"]
    sent = [_abap_name(c.tag) for c in entry if c.tag != "APARItems"]
    assert sent == [f for f in header_fields if f in sent]  # known names, schema order
    assert "POSTING_DATE" in sent  # the clearing date
    item_fields = fields["ZSCM_001JOURNAL_ENTRY_CLEARIN5"]
    for item in entry.iter("APARItems"):
        names = [_abap_name(c.tag) for c in item]
        assert names == [f for f in item_fields if f in names]
        assert {"FISCAL_YEAR", "ACCOUNTING_DOCUMENT", "ACCOUNTING_DOCUMENT_ITEM"} <= set(names)


@needs_reference
def test_every_cube_property_the_connector_reads_exists_in_sap_metadata() -> None:
    from pyodata.v2.model import Config, MetadataBuilder, PolicyIgnore

    xml = (REFERENCE / "API_OPLACCTGDOCITEMCUBE_SRV.edmx").read_bytes()
    schema = MetadataBuilder(xml, config=Config(default_error_policy=PolicyIgnore())).build()
    entity = schema.entity_set(oi.ENTITY_SET).entity_type
    names = {p.name for p in entity.proprties()}
    filtered = set(
        re.findall(
            r"([A-Z][A-Za-z]+) (?:eq|ge)",
            oi.open_items_filter(
                sap_config(eligible_payment_methods=("T",)), "1010", date(2026, 5, 1)
            ),
        )
    )
    assert set(oi.OPEN_ITEM_FIELDS) | filtered | {"IsReversed"} <= names
    assert [k.name for k in entity.key_proprties] == list(oi.KEY)


class RecordingRfc:
    """pyrfc's call shape, recording what the connector sends; answers like a clean ECC."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, name: str, **params: Any) -> dict[str, Any]:
        self.calls.append((name, params))
        if name == "BAPI_AR_ACC_GETOPENITEMS":
            return {
                "RETURN": {"TYPE": ""},
                "LINEITEMS": [
                    {
                        "COMP_CODE": "4010",
                        "CUSTOMER": "0017100001",
                        "FISC_YEAR": "2026",
                        "DOC_NO": "0100000000",
                        "ITEM_NUM": "001",
                        "DOC_TYPE": "DR",
                        "DB_CR_IND": "S",
                        "CURRENCY": "KWD",
                        "AMT_DOCCUR": "12.3450",
                        "ALLOC_NMBR": "INV-1001",
                        "REF_DOC_NO": "INV-1001",
                    }
                ],
            }
        if name == "BAPI_AR_ACC_GETSTATEMENT":
            return {"RETURN": {"TYPE": ""}, "LINEITEMS": []}
        if name == "BAPI_ACC_DOCUMENT_POST":
            return {"RETURN": [{"TYPE": "S", "MESSAGE": "posted"}], "OBJ_KEY": "140000000040102026"}
        return {"RETURN": []}

    def close(self) -> None:
        pass


@needs_reference
def test_bapi_document_fits_sap_interface_dump() -> None:
    rfc = RecordingRfc()
    cfg = sap_config(system="ecc", customers=("17100001",))
    s = settlement(
        company="4010", currency="KWD", invoice_amount=Decimal("12.345"), short=Decimal("0.005")
    )
    posted = EccConnector(cfg, connect=lambda _c: rfc).post_settlement(s)
    assert posted.payment_id == "4010-2026-1400000000"
    sequence = [name for name, _ in rfc.calls]
    assert sequence[-3:] == [
        "BAPI_ACC_DOCUMENT_CHECK",
        "BAPI_ACC_DOCUMENT_POST",
        "BAPI_TRANSACTION_COMMIT",
    ]
    assert rfc.calls[-1][1] == {"WAIT": "X"}
    params = rfc.calls[-2][1]
    fields = yaml.safe_load((REFERENCE / "BAPI_ACC_DOCUMENT_POST.fields.yaml").read_text())
    interface = yaml.safe_load((REFERENCE / "BAPI_ACC_DOCUMENT_POST.parameters.yaml").read_text())
    alpha = yaml.safe_load((REFERENCE / "BAPI_ACC_DOCUMENT_POST.alpha.yaml").read_text())
    signature = interface["BAPI_ACC_DOCUMENT_POST"]
    for param, value in params.items():
        structure = fields[signature[param]["TABNAME"]]
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            for name, field_value in row.items():
                assert name in structure, (
                    f"{param}.{name} is not a field of {signature[param]['TABNAME']}"
                )
                fmt = structure[name]["format"]
                if fmt["DATATYPE"] in ("CHAR", "NUMC"):
                    assert len(str(field_value)) <= fmt["LENG"], f"{param}.{name} too long"
                if fmt["DATATYPE"] == "NUMC":
                    assert str(field_value).isdigit() and len(field_value) == fmt["LENG"]
                if alpha["rfm"]["BAPI_ACC_DOCUMENT_POST"].get(param, {}).get(name) == "ALPHA":
                    assert len(field_value) == fmt["LENG"], f"{param}.{name} not ALPHA-converted"
                if fmt["DATATYPE"] == "DEC":
                    assert isinstance(field_value, Decimal)
    amounts = sorted(str(r["AMT_DOCCUR"]) for r in params["CURRENCYAMOUNT"])
    assert "-12.340" in amounts and "-0.005" in amounts  # BAPICURR: external KWD, 3 decimals
    assert params["DOCUMENTHEADER"]["TRANS_DATE"] == params["DOCUMENTHEADER"]["PSTNG_DATE"]
    receivable = params["ACCOUNTRECEIVABLE"]
    assert {r["ALLOC_NMBR"] for r in receivable} == {"INV-1001"}  # ZUONR for F.13


def test_bapi_errors_come_back_with_sap_text_and_are_not_committed() -> None:
    rfc = RecordingRfc()
    original = rfc.call

    def failing(name: str, **params: Any) -> dict[str, Any]:
        if name == "BAPI_ACC_DOCUMENT_CHECK":
            rfc.calls.append((name, params))
            return {
                "RETURN": [
                    {
                        "TYPE": "E",
                        "ID": "F5",
                        "NUMBER": "201",
                        "MESSAGE": "Posting period 005 2026 is not open",
                    }
                ]
            }
        return original(name, **params)

    rfc.call = failing  # type: ignore[method-assign]
    cfg = sap_config(system="ecc", customers=("17100001",))
    s = settlement(
        company="4010", currency="KWD", invoice_amount=Decimal("12.345"), short=Decimal(0)
    )
    with pytest.raises(ErpRejectedError, match="Posting period 005 2026 is not open"):
        EccConnector(cfg, connect=lambda _c: rfc).post_settlement(s)
    assert "BAPI_TRANSACTION_COMMIT" not in [n for n, _ in rfc.calls]


def test_sap_lines_carry_the_full_journal_role_by_role() -> None:
    s = settlement(extra=Decimal("2.00"))
    lines = sap_lines(s, sap_config().accounts["1010"], "financial_instrument", {})
    expected: dict[str, Decimal] = {}
    for line in s.full_journal():
        expected[line.account_role] = (
            expected.get(line.account_role, Decimal(0)) + line.debit - line.credit
        )
    posted: dict[str, Decimal] = {}
    for line in lines:
        posted[line.role] = posted.get(line.role, Decimal(0)) + line.amount
    assert posted == expected


def _row(**overrides: Any) -> dict[str, Any]:
    row = {
        "CompanyCode": "2910",
        "FiscalYear": "2026",
        "AccountingDocument": "0100000007",
        "AccountingDocumentItem": "001",
        "Customer": "0017100001",
        "TransactionCurrency": "JPY",
        "AmountInTransactionCurrency": "125000.000",
        "DocumentReferenceID": "INV-7",
        "NetDueDate": "/Date(1780272000000)/",
        "LastChangeDate": "/Date(-6847804800000)/",
        "AccountingDocumentCreationDate": "/Date(1777593600000)/",
    }
    row.update(overrides)
    return row


def test_open_item_rows_become_invoices_or_named_quarantine() -> None:
    invoice = oi.validate_item(_row(), {})
    assert (invoice.invoice_id, invoice.company, invoice.amount, invoice.invoice_number) == (
        "2026-0100000007-001",
        "2910",
        Decimal("125000"),
        "INV-7",
    )
    assert invoice.due_date == date(2026, 6, 1)
    assert invoice.last_modified.date() == date(2026, 5, 1)  # 1753-01-01 = initial: not a change
    for overrides, field in [
        ({"AmountInTransactionCurrency": "125000.500"}, "AmountInTransactionCurrency"),
        ({"AmountInTransactionCurrency": "-5"}, "AmountInTransactionCurrency"),
        ({"TransactionCurrency": "XYZ"}, "TransactionCurrency"),
        ({"Customer": ""}, "Customer"),
    ]:
        refused = oi.validate_item(_row(**overrides), {})
        assert refused.field == field and "2026-0100000007-001" in refused.reason


def test_documents_are_dated_in_the_company_code_time_zone_with_the_settlement_rate() -> None:
    from datetime import UTC, datetime

    accounts = {**sap_config().accounts["2910"].model_dump(), "time_zone": "Asia/Tokyo"}
    cfg = sap_config(
        accounts={
            "1010": sap_config().accounts["1010"],
            "2910": accounts,
            "4010": sap_config().accounts["4010"],
        }
    )
    s = dataclasses.replace(
        settlement(company="2910", currency="EUR"),
        received_at=datetime(2026, 5, 31, 15, 30, tzinfo=UTC),  # 00:30 on 1 June in Tokyo
        exchange_rate=Decimal("162.4512"),
    )
    plan = plan_posting(cfg, s, _lookup())
    assert plan.posting_date == date(2026, 6, 1)
    assert plan.exchange_rate == Decimal("162.4512")
    assert plan_posting(
        sap_config(), dataclasses.replace(s, company="1010"), _lookup()
    ).posting_date == date(2026, 5, 31)  # UTC by default
    header = JournalHeader(
        "2910",
        "DZ",
        plan.reference,
        plan.header_text,
        "PAYBRIDGE",
        plan.posting_date,
        "EUR",
        plan.posting_date,
        plan.exchange_rate,
    )
    body = etree.fromstring(journal_entry_request(header, plan.lines))
    assert body.findtext(".//ExchangeRate") == "162.4512"
    assert body.findtext(".//ExchangeRateDate") == "2026-06-01"
    with pytest.raises(ValueError, match="time_zone"):
        sap_config(time_zone="Mars/Olympus")


def test_bapi_exchange_rate_is_refused_rather_than_rounded() -> None:
    from paybridge_connectors.erp.sap.bapi import bapi_rate

    assert bapi_rate("pb-x", Decimal("162.45120")) == Decimal("162.4512")
    with pytest.raises(ErpRejectedError, match=r"DEC 9,5"):
        bapi_rate("pb-x", Decimal("0.006123456"))
