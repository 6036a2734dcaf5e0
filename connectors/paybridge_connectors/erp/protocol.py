"""What every ERP connector offers PayBridge (NetSuite now, SAP next), and the records it returns.

The protocol is synchronous and small on purpose: Airflow tasks, the CLI and the settlement
outbox call it from plain Python. Idempotency is part of the contract: ``post_settlement`` with
the same settlement twice leaves the ERP exactly as after the first call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from paybridge.domain.settlements import Settlement


@dataclass(frozen=True)
class ErpInvoice:
    """An open receivable, validated: positive amount, ISO 4217 currency, known customer."""

    erp_system: str
    company: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    amount: Decimal  # amount remaining, in the invoice currency at its ISO 4217 exponent
    total: Decimal
    currency: str
    due_date: date | None
    last_modified: datetime
    #: the ERP's receivables (A/R) account of the invoice; its payment posts against it
    ar_account: str | None = None
    #: base currency of the invoice's company (subsidiary / company code)
    base_currency: str | None = None


@dataclass(frozen=True)
class ClosedInvoice:
    """An invoice that is no longer open in the ERP (paid outside PayBridge, voided, credited):
    its payment request must stop asking for money."""

    erp_system: str
    company: str
    invoice_id: str
    status: str  # paid | voided | closed
    detail: str
    last_modified: datetime


@dataclass(frozen=True)
class QuarantinedInvoice:
    """An invoice we refused, with the reason finance ops will read."""

    erp_system: str
    company: str | None
    invoice_id: str
    field: str
    reason: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class InvoicePage:
    """One page of a sync: store it, then persist ``watermark`` to resume after it."""

    invoices: list[ErpInvoice]
    quarantined: list[QuarantinedInvoice]
    watermark: str | None
    requests_used: int
    #: invoices seen in this page that left "open" since the last sync
    closed: list[ClosedInvoice] = field(default_factory=list)


@dataclass(frozen=True)
class PostedSettlement:
    """Where a settlement lives in the ERP (ids read back from the ERP, not assumed)."""

    settlement_id: str
    payment_id: str
    journal_id: str | None
    applied: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class ClearedItem:
    """A payment PayBridge posted, as the ERP reports it today (for tie-outs)."""

    settlement_id: str
    payment_id: str
    customer_id: str
    currency: str
    amount: Decimal
    posted_on: date | None
    last_modified: datetime | None


class ConnectionProblem(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    MISSING_PERMISSIONS = "missing_permissions"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class ConnectionCheck:
    problem: ConnectionProblem
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is ConnectionProblem.OK


class ErpError(Exception):
    """Base of connector errors; the message names the ERP, the record and the field."""


class ErpUnavailableError(ErpError):
    """Transient: 429 / 5xx / timeout / dropped connection after all retries. Retry later."""


class ErpRejectedError(ErpError):
    """The ERP refused the request (validation / business rule). Retrying will not help."""

    def __init__(self, message: str, code: str = "", path: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.path = path
        self.status = status


class ErpAuthError(ErpRejectedError):
    """Bad credentials (401) or missing permission (403)."""


@runtime_checkable
class ErpConnector(Protocol):
    erp_system: str

    def fetch_open_invoices(self, watermark: str | None = None) -> Iterator[InvoicePage]:
        """Open invoices modified after ``watermark`` (None = all), page by page, oldest first."""
        ...

    def post_settlement(self, settlement: Settlement) -> PostedSettlement:
        """Post idempotently, keyed by ``settlement.settlement_id``; safe to call again."""
        ...

    def find_settlement(self, settlement_id: str) -> PostedSettlement | None:
        """The settlement as posted in the ERP, or None if it is not there."""
        ...

    def cleared_items(self, since: datetime | None = None) -> list[ClearedItem]:
        """Payments PayBridge posted (modified since ``since``), for tie-outs."""
        ...

    def test_connection(self) -> ConnectionCheck:
        """Credentials, permissions and reachability, with a message an admin can act on."""
        ...

    def close(self) -> None: ...
