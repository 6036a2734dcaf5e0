"""ECC connector over RFC BAPIs (pyrfc, or SOAP-RFC with the same ``call`` shape).

Open items: ``BAPI_AR_ACC_GETOPENITEMS`` per company code and customer. Posting:
``BAPI_ACC_DOCUMENT_CHECK`` -> ``BAPI_ACC_DOCUMENT_POST`` -> ``BAPI_TRANSACTION_COMMIT``
(WAIT = 'X') on one connection (one LUW). Business errors do not raise in RFC: RETURN rows of
TYPE E or A are turned into ``ErpRejectedError`` with SAP's message text. The payment's
customer items carry the invoice's assignment (ZUONR), so SAP's automatic clearing (F.13)
clears them; see connectors/paybridge_connectors/erp/README.md for the SAP-side settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import (
    ClearedItem,
    ConnectionCheck,
    ErpInvoice,
    ErpRejectedError,
    ErpUnavailableError,
    InvoicePage,
    PostedSettlement,
    QuarantinedInvoice,
)
from paybridge_connectors.erp.sap.amounts import parse_external
from paybridge_connectors.erp.sap.bapi import (
    document_params,
    eligible,
    item_id,
    lineitem_invoice,
    return_errors,
    rows_of,
)
from paybridge_connectors.erp.sap.checks import run_check
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import Transient
from paybridge_connectors.erp.sap.journal import document_reference
from paybridge_connectors.erp.sap.openitems import ERP_SYSTEM, SyncWatermark, as_date
from paybridge_connectors.erp.sap.posting import (
    PlannedPosting,
    plan_posting,
    settlement_id_from_text,
)
from paybridge_connectors.erp.sap.rfc import RfcConnection, alpha, open_rfc

# safe to repeat in a new session: they read, or only check (nothing pending in the LUW)
READ_ONLY = frozenset(
    {"BAPI_AR_ACC_GETOPENITEMS", "BAPI_AR_ACC_GETSTATEMENT", "BAPI_ACC_DOCUMENT_CHECK"}
)
STATEMENT_DAYS = 400  # look-back of the duplicate check around the posting date


class EccConnector:
    """``ErpConnector`` for ECC. Not thread-safe: one instance (one RFC connection) per worker."""

    erp_system = ERP_SYSTEM

    def __init__(
        self,
        config: SapConnectionConfig,
        connect: Callable[[SapConnectionConfig], RfcConnection] = open_rfc,
    ) -> None:
        self.config = config
        self._connect = connect
        self._conn: RfcConnection | None = None
        self.calls = 0

    @property
    def conn(self) -> RfcConnection:
        if self._conn is None:
            self._conn = self._connect(self.config)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EccConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, name: str, **params: Any) -> dict[str, Any]:
        """One RFC call; reads are retried, writes never (the LUW dies with the session)."""
        attempts = self.config.max_attempts if name in READ_ONLY else 1
        for attempt in range(1, attempts + 1):
            self.calls += 1
            try:
                return self.conn.call(name, **params)
            except Transient as exc:
                self.close()  # the session (and any uncommitted LUW) is gone
                if attempt == attempts:
                    raise ErpUnavailableError(f"SAP RFC {name}: {exc}") from exc
                time.sleep(
                    min(self.config.backoff_max_s, self.config.backoff_initial_s * 2**attempt)
                )
        raise AssertionError("unreachable")  # pragma: no cover

    # ---------------------------------------------------------------- open items
    def open_items(self, company_code: str, customer: str, key_date: date) -> list[dict[str, Any]]:
        result = self.call(
            "BAPI_AR_ACC_GETOPENITEMS",
            COMPANYCODE=company_code,
            CUSTOMER=alpha(customer),
            KEYDATE=key_date,
        )
        errors = return_errors(result)
        if errors:
            raise ErpRejectedError(
                f"SAP BAPI_AR_ACC_GETOPENITEMS company code {company_code} customer {customer}: "
                + " | ".join(errors),
                "RETURN",
                "BAPI_AR_ACC_GETOPENITEMS",
            )
        return rows_of(result.get("LINEITEMS", []))

    def fetch_open_invoices(self, watermark: str | None = None) -> Iterator[InvoicePage]:
        """All open items of the configured customers (the BAPI has no change filter; the
        store upserts, so a full read each time is correct)."""
        started = datetime.now(UTC).replace(microsecond=0)
        for company_code in self.config.company_codes:
            for customer in self.config.customers:
                before = self.calls
                rows = [
                    r
                    for r in self.open_items(company_code, customer, started.date())
                    if eligible(self.config, r)
                ]
                results = [lineitem_invoice(self.config, r) for r in rows]
                yield InvoicePage(
                    [r for r in results if isinstance(r, ErpInvoice)],
                    [r for r in results if isinstance(r, QuarantinedInvoice)],
                    watermark,
                    self.calls - before,
                )
        yield InvoicePage([], [], SyncWatermark(started).encode(), 0)

    # ---------------------------------------------------------------- posting
    def _lookup(
        self, rows: list[dict[str, Any]], customer: str
    ) -> Callable[[str, str], dict[str, Any] | None]:
        """Invoice items from the statement rows (open and cleared), else from open items."""
        open_rows: dict[str, list[dict[str, Any]]] = {}

        def lookup(company_code: str, invoice_id: str) -> dict[str, Any] | None:
            found = next((r for r in rows if item_id(r) == invoice_id), None)
            if found is None:
                if company_code not in open_rows:
                    today = datetime.now(UTC).date()
                    open_rows[company_code] = self.open_items(company_code, customer, today)
                found = next((r for r in open_rows[company_code] if item_id(r) == invoice_id), None)
            if found is None:
                return None
            return {
                "Customer": found.get("CUSTOMER"),
                "TransactionCurrency": found.get("CURRENCY"),
                "AmountInTransactionCurrency": found.get("AMT_DOCCUR"),
                "AssignmentReference": found.get("ALLOC_NMBR"),
                "IsCleared": bool(found.get("CLR_DOC_NO")),
                "ClearingAccountingDocument": found.get("CLR_DOC_NO"),
            }

        return lookup

    def statement(self, company_code: str, customer: str, around: date) -> list[dict[str, Any]]:
        """Customer items posted around ``around``, open and cleared (duplicate check, tie-outs);
        falls back to open items where the system does not offer the statement BAPI."""
        try:
            result = self.call(
                "BAPI_AR_ACC_GETSTATEMENT",
                COMPANYCODE=company_code,
                CUSTOMER=alpha(customer),
                DATE_FROM=around - timedelta(days=STATEMENT_DAYS),
                DATE_TO=max(around, datetime.now(UTC).date()) + timedelta(days=1),
            )
        except ErpRejectedError:
            return self.open_items(company_code, customer, datetime.now(UTC).date())
        if return_errors(result):
            return self.open_items(company_code, customer, datetime.now(UTC).date())
        return rows_of(result.get("LINEITEMS", []))

    def post_settlement(self, settlement: Settlement) -> PostedSettlement:
        sid = settlement.settlement_id
        around = settlement.value_date or datetime.now(UTC).date()
        rows = self.statement(settlement.company, settlement.customer_id, around)
        reference = document_reference(sid)
        existing = [
            r
            for r in rows
            if r.get("REF_DOC_NO") == reference
            and settlement_id_from_text(str(r.get("ITEM_TEXT", "")))[0] == sid
        ]
        lookup = self._lookup(rows, settlement.customer_id)
        plan = plan_posting(self.config, settlement, lookup, already_posted=bool(existing))
        if existing:
            posted = sorted(
                str(
                    -parse_external(
                        str(r.get("AMT_DOCCUR")), settlement.currency, self.config.currency_decimals
                    )
                    * (1 if r.get("DB_CR_IND") == "H" else -1)
                )
                for r in existing
            )
            planned = sorted(str(x.amount) for x in plan.lines if x.kind == "customer")
            if posted != planned:
                raise ErpRejectedError(
                    f"settlement {settlement.settlement_id} is already posted in SAP as document "
                    f"{existing[0].get('DOC_NO')} (reference {plan.reference}) with other content; "
                    "reverse that document in SAP (FB08), then requeue the settlement",
                    "DUPLICATE_DIFFERENT",
                    "REF_DOC_NO",
                )
            return self._posted(settlement.settlement_id, existing[0])
        return self._post(settlement, plan)

    def _posted(self, settlement_id: str, row: dict[str, Any]) -> PostedSettlement:
        return PostedSettlement(
            settlement_id,
            f"{row.get('COMP_CODE')}-{row.get('FISC_YEAR')}-{row.get('DOC_NO')}",
            None,
        )

    def _post(self, settlement: Settlement, plan: PlannedPosting) -> PostedSettlement:
        sid = settlement.settlement_id
        params = document_params(self.config, settlement, plan)
        checked = self.call("BAPI_ACC_DOCUMENT_CHECK", **params)
        errors = return_errors(checked)
        if errors:
            raise ErpRejectedError(
                f"settlement {sid}: SAP document check failed: " + " | ".join(errors),
                "BAPI_ACC_DOCUMENT_CHECK",
                "RETURN",
            )
        posted = self.call("BAPI_ACC_DOCUMENT_POST", **params)
        errors = return_errors(posted)
        if errors:
            self.call("BAPI_TRANSACTION_ROLLBACK")
            raise ErpRejectedError(
                f"settlement {sid}: SAP refused the posting: " + " | ".join(errors),
                "BAPI_ACC_DOCUMENT_POST",
                "RETURN",
            )
        try:
            committed = self.call("BAPI_TRANSACTION_COMMIT", WAIT="X")
        except ErpUnavailableError:
            # The commit may have happened: the next attempt looks the reference up first.
            raise
        errors = return_errors(committed)
        if errors:
            raise ErpUnavailableError(f"settlement {sid}: SAP commit failed: " + " | ".join(errors))
        obj_key = str(posted.get("OBJ_KEY", ""))  # BELNR(10) + BUKRS(4) + GJAHR(4)
        doc, year = obj_key[:10], obj_key[14:18]
        return PostedSettlement(
            sid,
            f"{settlement.company}-{year}-{doc}",
            None,
            tuple((a.invoice_id, a.amount) for a in settlement.applications),
        )

    def find_settlement(self, settlement_id: str) -> PostedSettlement | None:
        """Needs the customer: found through the tie-out statement of configured customers."""
        for item in self.cleared_items():
            if item.settlement_id == settlement_id:
                return PostedSettlement(settlement_id, item.payment_id, None)
        return None

    # ---------------------------------------------------------------- tie-outs
    def cleared_items(self, since: datetime | None = None) -> list[ClearedItem]:
        today = datetime.now(UTC).date()
        documents: dict[str, list[dict[str, Any]]] = {}
        for company_code in self.config.company_codes:
            for customer in self.config.customers:
                for row in self.statement(company_code, customer, today):
                    sid, _kind = settlement_id_from_text(str(row.get("ITEM_TEXT", "")))
                    if sid and row.get("DOC_TYPE") == self.config.payment_document_type:
                        documents.setdefault(
                            f"{row.get('COMP_CODE')}-{row.get('FISC_YEAR')}-{row.get('DOC_NO')}", []
                        ).append(row)
        items = []
        for doc, rows in documents.items():
            first = rows[0]
            paid = Decimal(0)
            for row in rows:
                if settlement_id_from_text(str(row.get("ITEM_TEXT", "")))[1] in (
                    "applied",
                    "credit",
                ):
                    paid += parse_external(
                        str(row.get("AMT_DOCCUR")),
                        str(row.get("CURRENCY")),
                        self.config.currency_decimals,
                    ).copy_abs()
            posted_on = as_date(first.get("PSTNG_DATE") or None)
            if since is not None and posted_on is not None and posted_on < since.date():
                continue
            items.append(
                ClearedItem(
                    settlement_id_from_text(str(first.get("ITEM_TEXT")))[0],
                    doc,
                    str(first.get("CUSTOMER")),
                    str(first.get("CURRENCY")),
                    paid,
                    posted_on,
                    None,
                )
            )
        return items

    # ---------------------------------------------------------------- connection test
    def test_connection(self) -> ConnectionCheck:
        details = {"endpoint": self.config.base_url, "client": self.config.client, "system": "ecc"}
        today = datetime.now(UTC).date()
        return run_check(
            lambda: self.open_items(self.config.company_codes[0], self.config.customers[0], today),
            f"connected to SAP ECC at {self.config.base_url}, client {self.config.client}: "
            "BAPI_AR_ACC_GETOPENITEMS answered",
            details,
            "base_url (or the pyrfc ashost/sysnr), the SAP router",
        )
