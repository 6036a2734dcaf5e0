"""OData V2 read side of API_OPLACCTGDOCITEMCUBE_SRV: $metadata, $filter, paging, JSON.

Property names and types come from the derived $metadata (schemas/*.subset.edmx), so a query
naming a property SAP does not have is refused as the Gateway refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from simulators.sap.schemas import METADATA_FILE

SERVICE_ROOT = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/"
ENTITY_SET = "A_OperationalAcctgDocItemCube"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"


class ODataError(Exception):
    """A Gateway error: HTTP status, message code and text."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@cache
def metadata_bytes() -> bytes:
    return METADATA_FILE.read_bytes()


@cache
def property_types() -> dict[str, str]:
    """Property name -> Edm type, in $metadata order."""
    from lxml import etree

    root = etree.fromstring(metadata_bytes())
    return {p.get("Name"): p.get("Type") for p in root.iter(f"{EDM}Property")}


# ---------------------------------------------------------------- $filter
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<typed>(?:datetime|datetimeoffset|guid)'[^']*')"
    r"|(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?[MmDdLl]?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
Predicate = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise ODataError(
                400, "/IWBEP/CM_MGW_RT/020", f"Invalid token at position {pos} in $filter"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse_filter(text: str) -> Predicate:
    """eq/ne/gt/ge/lt/le, and/or/not, parentheses over the served properties."""
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise ODataError(400, "/IWBEP/CM_MGW_RT/020", "Unexpected end of $filter")
        position += 1
        return tokens[position - 1]

    def disjunction() -> Predicate:
        left = conjunction()
        while (tok := peek()) and tok == ("word", "or"):
            take()
            right, prev = conjunction(), left
            left = lambda row, a=prev, b=right: a(row) or b(row)  # noqa: E731
        return left

    def conjunction() -> Predicate:
        left = unary()
        while (tok := peek()) and tok == ("word", "and"):
            take()
            right, prev = unary(), left
            left = lambda row, a=prev, b=right: a(row) and b(row)  # noqa: E731
        return left

    def unary() -> Predicate:
        kind, value = take()
        if kind == "open":
            inner = disjunction()
            if take()[0] != "close":
                raise ODataError(400, "/IWBEP/CM_MGW_RT/020", "Missing ')' in $filter")
            return inner
        if (kind, value) == ("word", "not"):
            inner = unary()
            return lambda row: not inner(row)
        if kind != "word":
            raise ODataError(400, "/IWBEP/CM_MGW_RT/020", f"Expected a property, found {value}")
        name = value
        types = property_types()
        if name not in types:
            raise ODataError(
                400,
                "/IWBEP/CM_MGW_RT/021",
                f"Property '{name}' not found in type 'A_OperationalAcctgDocItemCubeType'",
            )
        op_kind, op = take()
        if op_kind != "word" or op not in _OPS:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/020", f"Unsupported operator '{op}' in $filter")
        literal = _literal(take(), types[name], name)
        return _compare(name, op, literal)

    predicate = disjunction()
    if position != len(tokens):
        raise ODataError(
            400, "/IWBEP/CM_MGW_RT/020", f"Unexpected '{tokens[position][1]}' in $filter"
        )
    return predicate


def _literal(token: tuple[str, str], edm: str, name: str) -> Any:
    kind, value = token
    if value == "null":
        return None
    try:
        if edm == "Edm.String" and kind == "string":
            return value[1:-1].replace("''", "'")
        if edm == "Edm.Boolean" and value in ("true", "false"):
            return value == "true"
        if edm == "Edm.DateTime" and value.startswith("datetime'"):
            return datetime.fromisoformat(value[9:-1]).replace(tzinfo=None)
        if edm == "Edm.DateTime" and value.startswith("datetimeoffset'"):
            stamp = datetime.fromisoformat(value[15:-1].replace("Z", "+00:00"))
            return stamp.astimezone(UTC).replace(tzinfo=None)
        if edm == "Edm.Decimal" and kind == "number":
            return Decimal(value.rstrip("MmDdLl"))
    except (ValueError, InvalidOperation) as exc:
        raise ODataError(
            400, "/IWBEP/CM_MGW_RT/020", f"Invalid literal {value} for {name}"
        ) from exc
    raise ODataError(
        400, "/IWBEP/CM_MGW_RT/020", f"Literal {value} does not match type {edm} of property {name}"
    )


def _compare(name: str, op: str, literal: Any) -> Predicate:
    def test(row: dict[str, Any]) -> bool:
        value = row.get(name)
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time())
        if op == "eq":
            return value == literal
        if op == "ne":
            return value != literal
        if value is None or literal is None:
            return False
        return {
            "gt": value > literal,
            "ge": value >= literal,
            "lt": value < literal,
            "le": value <= literal,
        }[op]

    return test


# ---------------------------------------------------------------- other options
def parse_select(text: str | None) -> list[str]:
    names = list(property_types())
    if not text or text.strip() == "*":
        return names
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    for name in chosen:
        if name not in property_types():
            raise ODataError(
                400,
                "/IWBEP/CM_MGW_RT/021",
                f"Property '{name}' not found in type 'A_OperationalAcctgDocItemCubeType'",
            )
    return chosen


def sort_rows(rows: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    keys = ["CompanyCode", "FiscalYear", "AccountingDocument", "AccountingDocumentItem"]
    if text:
        for part in reversed([p.strip() for p in text.split(",") if p.strip()]):
            name, _, direction = part.partition(" ")
            if name not in property_types() or direction.strip() not in ("", "asc", "desc"):
                raise ODataError(400, "/IWBEP/CM_MGW_RT/020", f"Invalid $orderby '{part}'")
            rows = sorted(
                rows,
                key=lambda row, n=name: (row.get(n) is not None, row.get(n) or ""),
                reverse=direction.strip() == "desc",
            )
        return rows
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


def int_option(query: dict[str, list[str]], name: str) -> int | None:
    raw = query.get(name, [None])[0]
    if raw is None:
        return None
    if not raw.isdigit():
        raise ODataError(400, "/IWBEP/CM_MGW_RT/020", f"Invalid value '{raw}' of {name}")
    return int(raw)


# ---------------------------------------------------------------- JSON values
def json_value(value: Any, edm: str) -> Any:
    """OData V2 JSON: /Date(ms)/, Edm.Time as PT..H..M..S, decimals as strings."""
    if value is None:
        return None
    if edm == "Edm.DateTime":
        stamp = value if isinstance(value, datetime) else datetime.combine(value, time())
        return f"/Date({int(stamp.replace(tzinfo=UTC).timestamp() * 1000)})/"
    if edm == "Edm.Time":
        return f"PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S"
    if edm == "Edm.Decimal":
        return format(value, "f")
    return value


def entity_json(row: dict[str, Any], selected: list[str], base: str) -> dict[str, Any]:
    key = (
        f"CompanyCode='{row['CompanyCode']}',FiscalYear='{row['FiscalYear']}',"
        f"AccountingDocument='{row['AccountingDocument']}',"
        f"AccountingDocumentItem='{row['AccountingDocumentItem']}'"
    )
    uri = f"{base}{SERVICE_ROOT}{ENTITY_SET}({key})"
    out: dict[str, Any] = {
        "__metadata": {
            "id": uri,
            "uri": uri,
            "type": "API_OPLACCTGDOCITEMCUBE_SRV.A_OperationalAcctgDocItemCubeType",
        }
    }
    types = property_types()
    for name in selected:
        out[name] = json_value(row.get(name), types[name])
    return out


def gateway_error(code: str, message: str, transaction_id: str) -> dict[str, Any]:
    """SAP Gateway's JSON error body."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {
                "application": {
                    "component_id": "FI-GL-IS",
                    "service_namespace": "/SAP/",
                    "service_id": "API_OPLACCTGDOCITEMCUBE_SRV",
                    "service_version": "0001",
                },
                "transactionid": transaction_id,
                "timestamp": stamp,
                "Error_Resolution": {
                    "SAP_Transaction": "For backend administrators: use ADT feed reader "
                    '"SAP Gateway Error Log" or run transaction /IWFND/ERROR_LOG on SAP '
                    "Gateway hub system and search for entries with the timestamp above",
                    "SAP_Note": "See SAP Note 1797736 for error analysis "
                    "(https://service.sap.com/sap/support/notes/1797736)",
                },
                "errordetails": [
                    {
                        "code": code,
                        "message": message,
                        "propertyref": "",
                        "severity": "error",
                        "target": "",
                        "transition": False,
                    }
                ],
            },
        }
    }
