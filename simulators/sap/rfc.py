"""ECC over SOAP-RFC (``/sap/bc/soap/rfc``): the FI BAPIs, their LUW and BAPIRET2 answers.

RFC passes values in *internal* format: no ALPHA conversion happens on the way in (a caller
must send 0011002000, not 11002000), amounts of BAPICURR fields are external. Business errors
are RETURN rows of type E/A, never faults; a malformed call (unknown field, value too long for
its DDIC length) is a SOAP fault, as the RFC runtime's conversion errors are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from simulators.sap.ledger import Ledger, PostingLine, PostingRequest
from simulators.sap.messages import Message, msg
from simulators.sap.schemas import BAPI_FILE
from simulators.sap.soap import SoapFault
from simulators.sap.views import bapi_line_items

RFC_NS = "urn:sap-com:document:sap:rfc:functions"
RFC_PATH = "/sap/bc/soap/rfc"
LOGICAL_SYSTEM = "SIMCLNT100"
_POST_TABLES = ("ACCOUNTGL", "ACCOUNTRECEIVABLE", "CURRENCYAMOUNT")


@dataclass
class Luw:
    """The logical unit of work of one RFC session: documents posted but not yet committed."""

    pending: list[tuple[str, str, str]] = field(default_factory=list)


@cache
def bapi_interface() -> dict[str, Any]:
    return json.loads(BAPI_FILE.read_text())


def call(ledger: Ledger, luw: Luw, body: bytes) -> bytes:
    """Run one SOAP-RFC call and answer its ``<name>.Response`` envelope."""
    from lxml import etree

    from simulators.sap.soap import SOAP11, SOAP12

    try:
        envelope = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", "XML parse error", str(exc)) from exc
    soap_ns = etree.QName(envelope).namespace
    soap_body = envelope.find(f"{{{soap_ns}}}Body") if soap_ns in (SOAP11, SOAP12) else None
    calls = [c for c in soap_body if isinstance(c.tag, str)] if soap_body is not None else []
    if len(calls) != 1 or etree.QName(calls[0]).namespace != RFC_NS:
        raise SoapFault("Client", "Expected one RFC function element in " + RFC_NS, "")
    function = etree.QName(calls[0]).localname
    handler = FUNCTIONS.get(function)
    if handler is None:
        raise SoapFault("Client", f"Function module {function} not found (FU 046)", function)
    params = {child.tag: child for child in calls[0] if isinstance(child.tag, str)}
    exports = handler(ledger, luw, params)
    response = etree.Element(f"{{{RFC_NS}}}{function}.Response", nsmap={"urn": RFC_NS})
    for name, value in exports.items():
        node = etree.SubElement(response, name)
        if isinstance(value, list):
            for row in value:
                _fill(etree.SubElement(node, "item"), row)
        elif isinstance(value, dict):
            _fill(node, value)
        else:
            node.text = str(value)
    out = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap-env": soap_ns})
    etree.SubElement(out, f"{{{soap_ns}}}Body").append(response)
    return etree.tostring(out, xml_declaration=True, encoding="utf-8")


def _fill(node: Any, row: dict[str, str]) -> None:
    from lxml import etree

    for key, value in row.items():
        etree.SubElement(node, key).text = value


# ---------------------------------------------------------------- field checks
def _fields(node: Any, structure: str, parameter: str) -> dict[str, str]:
    """A structure's fields, checked against the DDIC dump (name, type, length, decimals)."""
    spec = bapi_interface()["structures"][structure]
    values: dict[str, str] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name, text = child.tag, (child.text or "")
        column = spec.get(name)
        if column is None:
            raise SoapFault(
                "Client",
                f"Field {name} is not a component of {structure} (parameter {parameter}) "
                "or is not modelled by the simulator",
                name,
            )
        _check_value(text, column, f"{parameter}-{name}")
        values[name] = text
    return values


def _check_value(text: str, column: dict[str, Any], where: str) -> None:
    kind, length, decimals = column["type"], column["length"], column["decimals"]
    if kind in ("CHAR", "CUKY") and len(text) > length:
        raise SoapFault("Client", f"Value of {where} is longer than {length} characters", text)
    if kind == "NUMC" and text and (not text.isdigit() or len(text) > length):
        raise SoapFault("Client", f"Value of {where} is not NUMC {length}", text)
    if kind == "DATS" and text and not _is_date(text):
        raise SoapFault("Client", f"Value of {where} is not a date (YYYY-MM-DD)", text)
    if kind == "DEC" and text:
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise SoapFault("Client", f"Value of {where} is not a number", text) from exc
        exponent = int(number.as_tuple().exponent)
        digits = len(number.as_tuple().digits)
        if -exponent > decimals or digits - max(-exponent, 0) > length - decimals:
            raise SoapFault(
                "Client", f"Value of {where} does not fit DEC {length},{decimals}", text
            )


def _is_date(text: str) -> bool:
    try:
        _date(text)
    except ValueError:
        return False
    return True


def _date(text: str) -> date:
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def _rows(params: dict[str, Any], name: str) -> list[dict[str, str]]:
    node = params.get(name)
    structure = bapi_interface()["parameters"][name]["structure"]
    return [] if node is None else [_fields(item, structure, name) for item in node.findall("item")]


def bapiret2(message: Message, parameter: str = "", row: int = 0) -> dict[str, str]:
    values = [*message.variables, "", "", "", ""][:4]
    return {
        "TYPE": message.type,
        "ID": message.id,
        "NUMBER": message.number,
        "MESSAGE": message.text[:220],
        "LOG_NO": "",
        "LOG_MSG_NO": "000000",
        "MESSAGE_V1": values[0][:50],
        "MESSAGE_V2": values[1][:50],
        "MESSAGE_V3": values[2][:50],
        "MESSAGE_V4": values[3][:50],
        "PARAMETER": parameter,
        "ROW": str(row),
        "FIELD": message.field,
        "SYSTEM": LOGICAL_SYSTEM,
    }


# ---------------------------------------------------------------- functions
def _posting(params: dict[str, Any]) -> tuple[PostingRequest | None, list[Message], dict[str, str]]:
    header_node = params.get("DOCUMENTHEADER")
    if header_node is None:
        return (
            None,
            [Message("E", "RW", "602", "Required parameter DOCUMENTHEADER was not transferred")],
            {},
        )
    header = _fields(header_node, "BAPIACHE09", "DOCUMENTHEADER")
    tables = {name: _rows(params, name) for name in _POST_TABLES}
    problems = []
    for required in ("BUS_ACT", "COMP_CODE", "PSTNG_DATE", "DOC_DATE", "USERNAME"):
        if not header.get(required):
            problems.append(
                Message(
                    "E",
                    "RW",
                    "602",
                    f"Required field {required} was not transferred in parameter DOCUMENTHEADER",
                    (required, "DOCUMENTHEADER"),
                    required,
                )
            )
    if header.get("OBJ_TYPE") not in (None, "", "BKPFF"):
        problems.append(
            Message("E", "RW", "010", f"Reference transaction {header['OBJ_TYPE']} is not defined")
        )
    amounts: dict[str, dict[str, str]] = {}
    for row in tables["CURRENCYAMOUNT"]:
        amounts.setdefault(row.get("ITEMNO_ACC", "").lstrip("0"), {})[
            row.get("CURR_TYPE") or "00"
        ] = row
    lines, currencies = [], set()
    items = [("S", row) for row in tables["ACCOUNTGL"]] + [
        ("D", row) for row in tables["ACCOUNTRECEIVABLE"]
    ]
    for account_type, row in sorted(items, key=lambda pair: int(pair[1].get("ITEMNO_ACC") or 0)):
        item = row.get("ITEMNO_ACC", "").lstrip("0")
        document_amount = amounts.get(item, {}).get("00")
        if document_amount is None or not document_amount.get("AMT_DOCCUR"):
            problems.append(msg("E", "F5", "231", item or "?"))
            continue
        if row.get("COMP_CODE") not in (None, "", header.get("COMP_CODE")):
            problems.append(
                Message(
                    "E",
                    "RW",
                    "603",
                    f"Company code {row['COMP_CODE']} in item {item} differs from the header",
                )
            )
        currencies.add(document_amount.get("CURRENCY") or document_amount.get("CURRENCY_ISO", ""))
        local = amounts.get(item, {}).get("10")
        lines.append(
            PostingLine(
                account_type=account_type,
                account=row.get("GL_ACCOUNT", "")
                if account_type == "S"
                else row.get("CUSTOMER", ""),
                amount=Decimal(document_amount["AMT_DOCCUR"]),
                local_amount=Decimal(local["AMT_DOCCUR"])
                if local and local.get("AMT_DOCCUR")
                else None,
                assignment=row.get("ALLOC_NMBR", ""),
                text=row.get("ITEM_TEXT", ""),
            )
        )
    if len(currencies) > 1:
        problems.append(
            Message("E", "RW", "604", f"Items have different currencies: {sorted(currencies)}")
        )
    if problems:
        return None, problems, header
    rate = next((r.get("EXCH_RATE") for r in tables["CURRENCYAMOUNT"] if r.get("EXCH_RATE")), None)
    request = PostingRequest(
        company_code=header["COMP_CODE"],
        document_type=header.get("DOC_TYPE") or "SA",
        posting_date=_date(header["PSTNG_DATE"]),
        document_date=_date(header["DOC_DATE"]),
        currency=currencies.pop() if currencies else "",
        lines=lines,
        reference=header.get("REF_DOC_NO", ""),
        header_text=header.get("HEADER_TXT", ""),
        created_by=header.get("USERNAME", ""),
        exchange_rate=Decimal(rate) if rate else None,
        fiscal_period=int(header["FIS_PERIOD"]) if header.get("FIS_PERIOD") else None,
        object_key=header.get("OBJ_KEY", "") if header.get("OBJ_KEY") not in ("", "$") else "",
    )
    return request, [], header


def _echo(params: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {name: _rows(params, name) for name in _POST_TABLES if name in params}


def document_check(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    request, problems, _ = _posting(params)
    if request is not None:
        problems = ledger.check(request)
    if any(m.type in "EA" for m in problems):
        head = msg("E", "RW", "609", "BKPFF", "$", LOGICAL_SYSTEM)
        return {**_echo(params), "RETURN": [bapiret2(m) for m in (head, *problems)]}
    ok = msg("S", "RW", "614")
    return {**_echo(params), "RETURN": [bapiret2(m) for m in (*problems, ok)]}


def document_post(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    request, problems, _ = _posting(params)
    document = None
    if request is not None:
        document, problems = ledger.post(request, committed=False)
    if document is None:
        head = msg("E", "RW", "609", "BKPFF", "$", LOGICAL_SYSTEM)
        return {
            "OBJ_KEY": "$",
            "OBJ_SYS": LOGICAL_SYSTEM,
            "OBJ_TYPE": "BKPFF",
            **_echo(params),
            "RETURN": [bapiret2(m) for m in (head, *problems)],
        }
    luw.pending.append((document.company_code, document.fiscal_year, document.number))
    key = f"{document.number}{document.company_code}{document.fiscal_year}"
    ok = msg("S", "RW", "605", "BKPFF", key, LOGICAL_SYSTEM)
    return {
        "OBJ_KEY": key,
        "OBJ_SYS": LOGICAL_SYSTEM,
        "OBJ_TYPE": "BKPFF",
        **_echo(params),
        "RETURN": [bapiret2(m) for m in (*problems, ok)],
    }


def transaction_commit(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    ledger.commit(luw.pending)
    luw.pending.clear()
    return {"RETURN": {key: "" for key in bapiret2(msg("S", "RW", "614"))}}


def transaction_rollback(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    ledger.rollback(luw.pending)
    luw.pending.clear()
    return {"RETURN": {key: "" for key in bapiret2(msg("S", "RW", "614"))}}


def _import(params: dict[str, Any], name: str) -> str:
    node = params.get(name)
    return (node.text or "").strip() if node is not None else ""


def _customer_items(
    params: dict[str, Any], ledger: Ledger, **window: date | None
) -> dict[str, Any]:
    """RETURN (a BAPIRETURN structure, not BAPIRET2) and LINEITEMS of one customer."""
    company, customer = _import(params, "COMPANYCODE"), _import(params, "CUSTOMER")
    blank = dict.fromkeys(
        (
            "TYPE",
            "CODE",
            "MESSAGE",
            "LOG_NO",
            "MESSAGE_V1",
            "MESSAGE_V2",
            "MESSAGE_V3",
            "MESSAGE_V4",
        ),
        "",
    ) | {"LOG_MSG_NO": "000000"}
    if company not in ledger.company_codes:
        error = msg("E", "F5", "165", company)
        returned = {"TYPE": "E", "CODE": "F5165", "MESSAGE": error.text, "MESSAGE_V1": company}
        return {"RETURN": blank | returned, "LINEITEMS": []}
    if customer not in ledger.customers:  # no ALPHA over RFC: "17100001" is not 0017100001
        error = msg("E", "F5", "155", customer, company)
        returned = {
            "TYPE": "E",
            "CODE": "F5155",
            "MESSAGE": error.text,
            "MESSAGE_V1": customer,
            "MESSAGE_V2": company,
        }
        return {"RETURN": blank | returned, "LINEITEMS": []}
    return {"RETURN": blank, "LINEITEMS": bapi_line_items(ledger, company, customer, **window)}


def get_open_items(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    """BAPI_AR_ACC_GETOPENITEMS: items open at KEYDATE (default: today)."""
    keydate = _import(params, "KEYDATE")
    return _customer_items(params, ledger, keydate=_date(keydate) if keydate else date.today())


def get_statement(ledger: Ledger, luw: Luw, params: dict[str, Any]) -> dict[str, Any]:
    """BAPI_AR_ACC_GETSTATEMENT: open and cleared items posted from DATE_FROM to DATE_TO."""
    date_from, date_to = _import(params, "DATE_FROM"), _import(params, "DATE_TO")
    return _customer_items(
        params,
        ledger,
        posted_from=_date(date_from) if date_from else date.min,
        posted_to=_date(date_to) if date_to else date.max,
    )


FUNCTIONS = {
    "BAPI_AR_ACC_GETOPENITEMS": get_open_items,
    "BAPI_AR_ACC_GETSTATEMENT": get_statement,
    "BAPI_ACC_DOCUMENT_CHECK": document_check,
    "BAPI_ACC_DOCUMENT_POST": document_post,
    "BAPI_TRANSACTION_COMMIT": transaction_commit,
    "BAPI_TRANSACTION_ROLLBACK": transaction_rollback,
}
