"""S/4HANA open receivables from ``API_OPLACCTGDOCITEMCUBE_SRV`` (pyodata), and row validation.

The cube has no change *timestamp*, only dates (``LastChangeDate``,
``AccountingDocumentCreationDate``, both in the SAP system's local day). The watermark is
therefore the UTC instant a sync started;
the next sync asks for items changed or created on or after the day of (watermark - overlap),
``sync_overlap_hours`` (default 24 h: covers any time zone, UTC-12..+14, plus postings that
commit late). Items seen twice in one run are handed over once; re-stored items are upserts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from paybridge_connectors.erp.protocol import ClosedInvoice, ErpInvoice, QuarantinedInvoice
from paybridge_connectors.erp.sap.amounts import SapAmountError, parse_external, sap_decimals
from paybridge_connectors.erp.sap.config import SapConnectionConfig

ERP_SYSTEM = "sap"
SERVICE_PATH = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/"
ENTITY_SET = "A_OperationalAcctgDocItemCube"
KEY = ("CompanyCode", "FiscalYear", "AccountingDocument", "AccountingDocumentItem")
OPEN_ITEM_FIELDS = (
    *KEY,
    "Customer",
    "TransactionCurrency",
    "AmountInTransactionCurrency",
    "DebitCreditCode",
    "AccountingDocumentType",
    "PaymentMethod",
    "PaymentBlockingReason",
    "DocumentReferenceID",
    "AssignmentReference",
    "NetDueDate",
    "LastChangeDate",
    "AccountingDocumentCreationDate",
    "IsCleared",
    "ClearingAccountingDocument",
    "AccountingDocumentHeaderText",
    "DocumentItemText",
    "PostingDate",
    "CompanyCodeCurrency",
    "GLAccount",
)


Rows = tuple[list[dict[str, Any]], str | None, int | None]


def rows_handler(response: Any) -> Rows:
    """pyodata response handler: OData V2 JSON rows (``d.results``), ``__next``, ``__count``."""
    from pyodata.exceptions import HttpError

    if response.status_code != 200:
        raise HttpError(f"HTTP {response.status_code} on {ENTITY_SET}", response)
    data = response.json()["d"]
    if isinstance(data, list):
        return data, None, None
    count = data.get("__count")
    return data.get("results", []), data.get("__next"), int(count) if count is not None else None


def check_metadata(schema: Any) -> None:
    """The system's own $metadata must have every property the connector reads or filters."""
    from paybridge_connectors.erp.protocol import ErpRejectedError

    try:
        entity = schema.entity_set(ENTITY_SET).entity_type
    except Exception as exc:
        raise ErpRejectedError(
            f"SAP service {SERVICE_PATH} has no entity set {ENTITY_SET}: activate the API "
            "(communication arrangement SAP_COM_0xxx / /IWFND/MAINT_SERVICE)",
            "METADATA",
            ENTITY_SET,
        ) from exc
    names = {p.name for p in entity.proprties()}
    missing = sorted((set(OPEN_ITEM_FIELDS) | set(FILTERED_FIELDS)) - names)
    if missing:
        raise ErpRejectedError(
            f"SAP entity set {ENTITY_SET} lacks properties {missing} that PayBridge reads; "
            "the system's API version is older than expected",
            "METADATA",
            ",".join(missing),
        )


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


CLOSED_ITEM_FIELDS = (
    *KEY,
    "IsCleared",
    "IsReversed",
    "ClearingAccountingDocument",
    "ClearingDate",
    "LastChangeDate",
)


def closed_items_filter(config: SapConnectionConfig, company_code: str, since: date) -> str:
    """Invoice items of ``company_code`` cleared or changed since ``since`` that are no longer
    open (the eligibility filters apply as for open items)."""
    day = f"datetime'{since.isoformat()}T00:00:00'"
    conditions = [
        "FinancialAccountType eq 'D'",
        "IsCleared eq true",
        f"CompanyCode eq {quote(company_code)}",
        "DebitCreditCode eq 'S'",
        "SpecialGLCode eq ''",
        # ClearingCreationDate is the day the clearing was entered (AUGCP); ClearingDate may be
        # back-dated to the payment's posting date
        f"(ClearingCreationDate ge {day} or LastChangeDate ge {day})",
    ]
    if config.eligible_document_types:
        conditions.append(any_of("AccountingDocumentType", config.eligible_document_types))
    return " and ".join(conditions)


def closed_invoice(row: dict[str, Any]) -> ClosedInvoice:
    cleared_on = as_date(value(row, "ClearingDate"))
    by = value(row, "ClearingAccountingDocument") or "?"
    reversed_ = bool(value(row, "IsReversed"))
    return ClosedInvoice(
        erp_system=ERP_SYSTEM,
        company=str(value(row, "CompanyCode")),
        invoice_id=invoice_id_of(row),
        status="voided" if reversed_ else "closed",
        detail=f"reversed (cleared by {by})"
        if reversed_
        else f"cleared by document {by}" + (f" on {cleared_on.isoformat()}" if cleared_on else ""),
        last_modified=datetime.combine(cleared_on or date(1970, 1, 1), datetime.min.time(), UTC),
    )


#: what a sync reads of each open item (a narrower $select: less for SAP to serialise)
SYNC_FIELDS = (
    *KEY,
    "Customer",
    "TransactionCurrency",
    "AmountInTransactionCurrency",
    "DocumentReferenceID",
    "NetDueDate",
    "LastChangeDate",
    "AccountingDocumentCreationDate",
    "PostingDate",
    "CompanyCodeCurrency",
    "GLAccount",
)


def after_key(row: dict[str, Any]) -> str:
    """OData condition: key (CompanyCode, FiscalYear, AccountingDocument, AccountingDocumentItem)
    greater than the key of ``row``, in the $orderby order."""
    condition = ""
    for name in reversed(KEY):
        literal = quote(str(row[name]))
        greater = f"{name} gt {literal}"
        condition = (
            greater if not condition else f"({greater} or ({name} eq {literal} and {condition}))"
        )
    return condition


def any_of(field: str, values: tuple[str, ...] | list[str]) -> str:
    return "(" + " or ".join(f"{field} eq {quote(v)}" for v in values) + ")"


FILTERED_FIELDS = (
    "FinancialAccountType",
    "IsCleared",
    "SpecialGLCode",
    "IsReversed",
    "ClearingDate",
    "ClearingCreationDate",
    "ClearingAccountingDocument",
)


def open_items_filter(config: SapConnectionConfig, company_code: str, since: date | None) -> str:
    conditions = [
        "FinancialAccountType eq 'D'",
        "IsCleared eq false",
        f"CompanyCode eq {quote(company_code)}",
        "DebitCreditCode eq 'S'",
        "SpecialGLCode eq ''",
        "PaymentBlockingReason eq ''",
    ]
    if config.eligible_document_types:
        conditions.append(any_of("AccountingDocumentType", config.eligible_document_types))
    if config.eligible_payment_methods:
        conditions.append(any_of("PaymentMethod", config.eligible_payment_methods))
    if since is not None:
        day = f"datetime'{since.isoformat()}T00:00:00'"
        conditions.append(f"(LastChangeDate ge {day} or AccountingDocumentCreationDate ge {day})")
    return " and ".join(conditions)


@dataclass(frozen=True)
class SyncWatermark:
    """UTC instant the last complete sync started (ISO 8601)."""

    started: datetime

    def encode(self) -> str:
        return self.started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @classmethod
    def decode(cls, text: str | None) -> SyncWatermark | None:
        if not text:
            return None
        try:
            return cls(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
        except ValueError as exc:
            raise ValueError(
                f"invalid SAP watermark {text!r}: expected YYYY-MM-DDTHH:MM:SSZ"
            ) from exc

    def since(self, overlap_hours: int) -> date:
        return (self.started - timedelta(hours=overlap_hours)).date()


def value(row: Any, name: str) -> Any:
    """A property of a JSON row (dict) or of a pyodata EntityProxy."""
    if type(row) is dict:
        return row.get(name)
    try:
        return getattr(row, name)
    except (AttributeError, KeyError):
        return None


@lru_cache(maxsize=4096)
def _odata_date(text: str) -> date | None:
    millis = int(text[6:].split(")")[0].split("+")[0] or 0)
    day = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)).date()
    return None if day.year < 1900 else day


def as_date(raw: Any) -> date | None:
    """A date from pyodata (datetime), ``/Date(ms)/``, ISO text or DATS ``YYYYMMDD``; SAP's
    initial date (Gateway sends 1753-01-01 or null for 00000000) is None."""
    if raw is None or raw == "" or raw == "00000000":
        return None
    if isinstance(raw, datetime):
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    else:
        text = str(raw)
        if text.startswith("/Date("):
            return _odata_date(text)
        if len(text) == 8 and text.isdigit():
            day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        else:
            day = date.fromisoformat(text[:10])
    return None if day.year < 1900 else day


def invoice_id_of(row: Any) -> str:
    year, doc = value(row, "FiscalYear"), value(row, "AccountingDocument")
    return f"{year}-{doc}-{value(row, 'AccountingDocumentItem')}"


def parse_invoice_id(invoice_id: str) -> tuple[str, str, str] | None:
    parts = invoice_id.split("-")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def validate_item(row: Any, overrides: dict[str, int]) -> ErpInvoice | QuarantinedInvoice:
    """One open customer item -> an invoice, or a quarantine entry naming the field."""
    invoice_id = invoice_id_of(row)
    company = value(row, "CompanyCode")

    def refuse(field: str, reason: str) -> QuarantinedInvoice:
        raw = {name: str(value(row, name)) for name in SYNC_FIELDS}
        return QuarantinedInvoice(ERP_SYSTEM, company, invoice_id, field, reason, raw)

    customer = value(row, "Customer")
    if not customer:
        return refuse("Customer", f"item {invoice_id} has no customer")
    currency = value(row, "TransactionCurrency") or ""
    try:
        sap_decimals(currency, overrides)
    except ValueError:
        return refuse(
            "TransactionCurrency",
            f"item {invoice_id}: currency {currency!r} is not an ISO 4217 currency PayBridge "
            "can invoice in",
        )
    try:
        amount = parse_external(str(value(row, "AmountInTransactionCurrency")), currency, overrides)
    except (SapAmountError, ValueError) as exc:
        return refuse("AmountInTransactionCurrency", f"item {invoice_id}: {exc}")
    if amount <= 0:
        return refuse(
            "AmountInTransactionCurrency", f"item {invoice_id}: amount {amount} is not positive"
        )
    changed = (
        as_date(value(row, "LastChangeDate"))
        or as_date(value(row, "AccountingDocumentCreationDate"))
        or as_date(value(row, "PostingDate"))
    )
    return ErpInvoice(
        erp_system=ERP_SYSTEM,
        company=str(company),
        invoice_id=invoice_id,
        invoice_number=str(value(row, "DocumentReferenceID") or value(row, "AccountingDocument")),
        customer_id=str(customer),
        amount=amount,
        total=amount,
        currency=currency,
        due_date=as_date(value(row, "NetDueDate")),
        ar_account=value(row, "GLAccount") or None,  # the customer's reconciliation account
        base_currency=value(row, "CompanyCodeCurrency") or None,
        last_modified=datetime.combine(changed or date(1970, 1, 1), datetime.min.time(), UTC),
    )


def document_id(row: Any) -> str:
    """The SAP document of a row: company code, fiscal year, document number."""
    year, doc = value(row, "FiscalYear"), value(row, "AccountingDocument")
    return f"{value(row, 'CompanyCode')}-{year}-{doc}"


def dedupe(rows: Iterator[Any], seen: set[tuple[str, ...]]) -> Iterator[Any]:
    for row in rows:
        key = tuple(str(value(row, k)) for k in KEY)
        if key not in seen:
            seen.add(key)
            yield row


def amount_of(row: Any, overrides: dict[str, int]) -> Decimal:
    return (
        parse_external(
            str(value(row, "AmountInTransactionCurrency")),
            value(row, "TransactionCurrency"),
            overrides,
        )
        if value(row, "AmountInTransactionCurrency") is not None
        else Decimal(0)
    )
