"""S/4HANA connector: open items by OData (pyodata), one SOAP journal entry per settlement,
then a bulk clearing by document key, confirmed by reading the items back.

SAP has no upsert, so exactly-once comes from the look-up: the settlement's 16-character
reference (``journal.document_reference``) is the document's DocumentReferenceID; before every
post (and before every retry of a post whose answer was lost) the cube is asked for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import (
    ClearedItem,
    ConnectionCheck,
    ErpRejectedError,
    InvoicePage,
    PostedSettlement,
)
from paybridge_connectors.erp.sap import openitems as oi
from paybridge_connectors.erp.sap.checks import may_post, run_check
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import SapGateway, Transient
from paybridge_connectors.erp.sap.journal import HEADER_TEXT_PREFIX, document_reference
from paybridge_connectors.erp.sap.posting import PlannedPosting, plan_posting
from paybridge_connectors.erp.sap.s4_clearing import clear_invoices
from paybridge_connectors.erp.sap.s4_journal_entry import post_journal_entry
from paybridge_connectors.erp.sap.soap import (
    CLEARING_PATH,
    CREATE_PATH,
    DocumentKey,
)

ITEM_TEXT_PREFIX = "PB "


class S4Connector:
    """``ErpConnector`` for S/4HANA. Not thread-safe: one instance per worker thread."""

    erp_system = oi.ERP_SYSTEM

    def __init__(self, config: SapConnectionConfig) -> None:
        self.config = config
        self.gateway = SapGateway(config)
        self.gateway.session.headers["sap-client"] = config.client  # pyodata drops params
        self._service: Any = None

    def close(self) -> None:
        self.gateway.close()

    def __enter__(self) -> S4Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- OData
    def service(self) -> Any:
        """The pyodata client, built from the system's own $metadata (once)."""
        if self._service is None:
            import pyodata
            from pyodata.v2.model import Config, PolicyIgnore

            def build() -> Any:
                response = self.gateway.send("GET", oi.SERVICE_PATH + "$metadata", what="$metadata")
                return pyodata.Client(
                    self.config.base_url + oi.SERVICE_PATH,
                    self.gateway.session,
                    config=Config(default_error_policy=PolicyIgnore()),
                    metadata=response.content,
                )

            service = self.gateway.retrying(build, "$metadata")
            oi.check_metadata(service.schema)
            self._service = service
        return self._service

    def _query(self, what: str, request: Any) -> oi.Rows:
        from pyodata.exceptions import HttpError

        def run() -> oi.Rows:
            self.gateway.stats.requests += 1
            try:
                return request.execute()  # type: ignore[no-any-return]
            except HttpError as exc:
                self.gateway.check(exc.response, what)
                raise ErpRejectedError(f"SAP {what}: {exc}") from exc
            except (OSError, ConnectionError) as exc:
                raise Transient(f"{type(exc).__name__}: {exc}") from exc

        return self.gateway.retrying(run, what)

    def _request(self) -> Any:
        """A pyodata query on the entity set whose answer is kept as JSON rows: building an
        EntityProxy per row would cost more than the HTTP round trip (see openitems)."""
        from pyodata.v2.service import QueryRequest

        service = self.service()
        return QueryRequest(service.url, service.connection, oi.rows_handler, oi.ENTITY_SET)

    def items(
        self, filter_text: str, what: str, fields: tuple[str, ...] = oi.OPEN_ITEM_FIELDS
    ) -> Iterator[dict[str, Any]]:
        """Every row of the cube matching ``filter_text``, in ``$top``/``$skip`` windows ordered
        by the key (``__next`` followed when the server pages inside a window).

        ``$inlinecount`` tells when rows entered or left the result between windows (an item
        cleared meanwhile): offsets have shifted, so the read re-opens after the last key handed
        over (keyset) instead of risking a skipped row."""
        top, skip, total = self.config.page_size, 0, None
        after: dict[str, Any] | None = None
        after_last: dict[str, Any] | None = None
        while True:
            window = filter_text if after is None else f"({filter_text}) and {oi.after_key(after)}"
            request = (
                self._request()
                .filter(window)
                .select(",".join(fields))
                .order_by(",".join(oi.KEY))
                .top(top)
                .skip(skip)
                .count(inline=True)
            )
            rows, next_url, count = self._query(what, request)
            if total is not None and count is not None and count != total and after_last:
                after, skip, total = after_last, 0, None  # re-open after the last key
                continue
            total = count
            in_window = len(rows)
            yield from rows
            after_last = rows[-1] if rows else after
            while next_url:
                rows, next_url, _ = self._query(what, self._request().next_url(next_url))
                in_window += len(rows)
                yield from rows
                after_last = rows[-1] if rows else after_last
            if in_window < top:
                return
            skip += top

    def fetch_open_invoices(self, watermark: str | None = None) -> Iterator[InvoicePage]:
        started = datetime.now(UTC).replace(microsecond=0)
        previous = oi.SyncWatermark.decode(watermark)
        since = previous.since(self.config.sync_overlap_hours) if previous else None
        seen: set[tuple[str, ...]] = set()
        for company_code in self.config.company_codes:
            before = self.gateway.stats.requests
            batch: list[Any] = []
            rows = oi.dedupe(
                self.items(
                    oi.open_items_filter(self.config, company_code, since),
                    "open items",
                    oi.SYNC_FIELDS,
                ),
                seen,
            )
            for row in rows:
                batch.append(oi.validate_item(row, self.config.currency_decimals))
                if len(batch) == self.config.page_size:
                    yield self._page(batch, watermark, before)
                    batch, before = [], self.gateway.stats.requests
            if batch:
                yield self._page(batch, watermark, before)
            if since is not None:  # incremental: also the invoices that left "open"
                yield from self._closed(company_code, since, watermark)
        # the new watermark only once every company code is through
        yield InvoicePage([], [], oi.SyncWatermark(started).encode(), 0)

    def _closed(
        self, company_code: str, since: date, watermark: str | None
    ) -> Iterator[InvoicePage]:
        """Invoice items cleared (paid, credited) or reversed since ``since``: their payment
        requests must stop asking for money. A full sync reads open items only."""
        before = self.gateway.stats.requests
        closed = [
            oi.closed_invoice(row)
            for row in self.items(
                oi.closed_items_filter(self.config, company_code, since),
                "closed items",
                oi.CLOSED_ITEM_FIELDS,
            )
        ]
        for start in range(0, len(closed), self.config.page_size):
            chunk = closed[start : start + self.config.page_size]
            used = self.gateway.stats.requests - before if start == 0 else 0
            yield InvoicePage([], [], watermark, used, closed=chunk)

    def _page(self, results: list[Any], watermark: str | None, before: int) -> InvoicePage:
        invoices = [r for r in results if not hasattr(r, "field")]
        quarantined = [r for r in results if hasattr(r, "field")]
        return InvoicePage(invoices, quarantined, watermark, self.gateway.stats.requests - before)

    # ---------------------------------------------------------------- look-ups
    def _company_filter(self) -> str:
        return oi.any_of("CompanyCode", self.config.company_codes)

    def our_items(self, reference: str) -> list[Any]:
        """Customer items of non-reversed documents carrying ``reference``."""
        text = (
            f"DocumentReferenceID eq {oi.quote(reference)} and FinancialAccountType eq 'D' "
            f"and IsReversed eq false and {self._company_filter()}"
        )
        return list(self.items(text, f"look-up of reference {reference}"))

    def item(self, key: DocumentKey) -> Any | None:
        text = " and ".join(
            f"{name} eq {oi.quote(v)}"
            for name, v in zip(
                oi.KEY, (key.company_code, key.fiscal_year, key.document, key.item), strict=True
            )
        )
        rows = list(self.items(text, f"item {key.invoice_id}"))
        return rows[0] if rows else None

    def _posted(self, settlement_id: str, rows: list[Any]) -> PostedSettlement:
        first = rows[0]
        doc = oi.document_id(first)
        clearing = next(
            (
                oi.value(r, "ClearingAccountingDocument")
                for r in rows
                if oi.value(r, "ClearingAccountingDocument")
            ),
            None,
        )
        return PostedSettlement(settlement_id, doc, clearing)

    def find_settlement(self, settlement_id: str) -> PostedSettlement | None:
        rows = self.our_items(document_reference(settlement_id))
        return self._posted(settlement_id, rows) if rows else None

    # ---------------------------------------------------------------- posting
    def post_settlement(self, settlement: Settlement) -> PostedSettlement:
        existing = self.our_items(document_reference(settlement.settlement_id))
        plan = plan_posting(
            self.config, settlement, self._invoice_item, already_posted=bool(existing)
        )
        if existing:
            self._same_content(settlement, plan, existing)
        else:
            existing = post_journal_entry(self, settlement, plan)
        clear_invoices(self, settlement, plan, existing)
        posted = self._posted(settlement.settlement_id, self.our_items(plan.reference))
        applied = tuple((a.invoice_id, a.amount) for a in settlement.applications)
        return PostedSettlement(posted.settlement_id, posted.payment_id, posted.journal_id, applied)

    def _invoice_item(self, company_code: str, invoice_id: str) -> dict[str, Any] | None:
        parts = oi.parse_invoice_id(invoice_id)
        if parts is None:
            return None
        row = self.item(DocumentKey(company_code, *parts))
        if row is None:
            return None
        return {name: oi.value(row, name) for name in oi.OPEN_ITEM_FIELDS}

    def _same_content(self, settlement: Settlement, plan: PlannedPosting, rows: list[Any]) -> None:
        texts = {str(oi.value(r, "AccountingDocumentHeaderText") or "") for r in rows}
        if plan.header_text not in texts:
            doc = self._posted(settlement.settlement_id, rows).payment_id
            raise ErpRejectedError(
                f"settlement {settlement.settlement_id} is already posted in SAP as document {doc} "
                f"(reference {plan.reference}) with different content; SAP documents are never "
                "edited: reverse that document in SAP, then requeue the settlement",
                "DUPLICATE_DIFFERENT",
                "DocumentReferenceID",
            )

    # ---------------------------------------------------------------- tie-outs
    def cleared_items(self, since: datetime | None = None) -> list[ClearedItem]:
        conditions = [
            "FinancialAccountType eq 'D'",
            f"AccountingDocumentType eq {oi.quote(self.config.payment_document_type)}",
            "IsReversed eq false",
            self._company_filter(),
        ]
        if since is not None:
            day = f"datetime'{since.astimezone(UTC).date().isoformat()}T00:00:00'"
            conditions.append(
                f"(LastChangeDate ge {day} or AccountingDocumentCreationDate ge {day})"
            )
        documents: dict[str, list[Any]] = {}
        for row in self.items(" and ".join(conditions), "posted payments"):
            header = str(oi.value(row, "AccountingDocumentHeaderText") or "")
            if header.startswith(HEADER_TEXT_PREFIX):
                doc = oi.document_id(row)
                documents.setdefault(doc, []).append(row)
        return [self._cleared_item(doc, rows) for doc, rows in documents.items()]

    def _cleared_item(self, doc: str, rows: list[Any]) -> ClearedItem:
        from paybridge_connectors.erp.sap.posting import settlement_id_from_text

        overrides = self.config.currency_decimals
        paid = Decimal(0)
        settlement_id = ""
        for row in rows:
            sid, kind = settlement_id_from_text(str(oi.value(row, "DocumentItemText") or ""))
            settlement_id = settlement_id or sid
            if kind in ("applied", "credit"):
                paid -= oi.amount_of(row, overrides)
        first = rows[0]
        return ClearedItem(
            settlement_id=settlement_id,
            payment_id=doc,
            customer_id=str(oi.value(first, "Customer")),
            currency=str(oi.value(first, "TransactionCurrency")),
            amount=paid,
            posted_on=oi.as_date(oi.value(first, "PostingDate")),
            last_modified=None,
        )

    # ---------------------------------------------------------------- connection test
    def test_connection(self) -> ConnectionCheck:
        details = {"endpoint": self.config.base_url, "client": self.config.client, "system": "s4"}

        def post(path: str, body: bytes, what: str) -> Any:
            headers = {"Content-Type": "text/xml; charset=utf-8"}
            return self.gateway.send("POST", path, what=what, data=body, headers=headers,
                                     write=True, soap=True)  # fmt: skip

        def probe() -> None:
            send = self.gateway.send
            self.gateway.retrying(
                lambda: send("GET", oi.SERVICE_PATH, what="service"), "service", 2
            )
            today = datetime.now(UTC).date()
            filter_text = oi.open_items_filter(self.config, self.config.company_codes[0], today)
            next(iter(self.items(filter_text, "open items probe")), None)
            may_post(post, CREATE_PATH, "JournalEntryBulkCreateRequest")
            may_post(post, CLEARING_PATH, "JournalEntryBulkClearingRequest")

        return run_check(
            probe,
            f"connected to SAP S/4HANA at {self.config.base_url}, client {self.config.client}: "
            "open items readable; journal entry and clearing services authorised",
            details,
            "base_url, the Web Dispatcher",
        )
