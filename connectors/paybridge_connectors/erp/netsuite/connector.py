"""NetSuite connector: open invoices by SuiteQL, settlements as upserted records.

A settlement becomes up to three records, each sent with ``PUT .../eid:`` (NetSuite's upsert),
so a retry after a lost answer rewrites the same record instead of creating a second one:

1. ``journalEntry`` ``eid:<id>-WO`` when something is written off: Dr the tolerance group's
   write-off account / Cr the invoice's A/R account for the customer, approved. A journal
   entry crediting A/R for a customer is a credit NetSuite lets a payment apply;
2. ``customerPayment`` ``eid:<id>``: into the crypto clearing account (``undepFunds: false``),
   nothing applied automatically (``autoApply: false``), against the invoice's own A/R account
   (``arAcct``), dated by the last receipt's block in the subsidiary's time zone, applying the
   cash and the write-off credit (``credit`` sublist) to the invoice so it ends paid in full;
   any overpayment stays unapplied on it (the customer's credit in A/R);
3. ``journalEntry`` ``eid:<id>-JE``, approved: Dr the digital-asset account of the asset class
   at fair value / Cr clearing by the payment, gain or loss; clearing nets to zero.
The write-off journal comes first because the payment can only apply a credit that exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.invoices import (
    ERP_SYSTEM,
    PY_TIMESTAMP_FMT,
    TIMESTAMP_FMT,
    Watermark,
    closed_invoice,
    invoices_query,
    row_watermark,
    validate_row,
)
from paybridge_connectors.erp.netsuite.postings import (
    JOURNAL_SUFFIX,
    WRITE_OFF_SUFFIX,
    LedgerLine,
    SettlementRecords,
)
from paybridge_connectors.erp.netsuite.transport import NetSuiteTransport
from paybridge_connectors.erp.protocol import (
    ClearedItem,
    ClosedInvoice,
    ConnectionCheck,
    ConnectionProblem,
    ErpAuthError,
    ErpError,
    ErpInvoice,
    ErpRejectedError,
    ErpUnavailableError,
    InvoicePage,
    PostedSettlement,
    QuarantinedInvoice,
)

SUITEQL_ROW_CAP = 100_000
#: where NetSuite points a refusal about the accounting period
PERIOD_FIELDS = frozenset({"tranDate", "postingPeriod"})
_DECIMAL_TOKEN = re.compile(r'"__exact_decimal__(-?[0-9]+(?:\.[0-9]+)?)"')


def exact_json(payload: Any) -> str:
    """JSON with Decimals as exact number tokens (the package's encoder turns them into floats)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"__exact_decimal__{value:f}"
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(payload, default=default))


def _id_from_location(location: str | None) -> str | None:
    if not location:
        return None
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


class NetSuiteConnector:
    """``ErpConnector`` for NetSuite. Not thread-safe: one instance per worker thread."""

    erp_system = ERP_SYSTEM

    def __init__(self, config: NetSuiteConnectionConfig, *, pooled: bool = True) -> None:
        self.config = config
        self.transport = NetSuiteTransport(config, pooled=pooled)
        self.records = SettlementRecords(config)
        self._currency_ids: dict[str, str] | None = None

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> NetSuiteConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- reference data
    async def _currencies(self) -> dict[str, str]:
        """ISO code -> NetSuite currency internal id (one query per connector)."""
        if self._currency_ids is None:
            data = await self.transport.suiteql(
                "SELECT cur.id AS id, cur.symbol AS symbol FROM currency cur ORDER BY cur.id",
                1000,
                0,
            )
            self._currency_ids = {i["symbol"]: i["id"] for i in data["items"] if "symbol" in i}
        return self._currency_ids

    # ---------------------------------------------------------------- invoices
    def fetch_open_invoices(self, watermark: str | None = None) -> Iterator[InvoicePage]:
        stored = Watermark.decode(watermark)
        margin = self.config.sync_overlap_s
        after, overlap = stored, timedelta(seconds=margin) if margin else None
        zone = self.config.zone_of("")
        limit = self.config.page_size
        cap = min(SUITEQL_ROW_CAP, limit * 1000)
        while True:  # one SuiteQL window per iteration, each under the row cap
            query = invoices_query(
                after, self.config.eligibility_filter, zone, overlap=overlap if after else None
            )
            overlap = None  # only the first window reaches back before the stored watermark
            offset, total = 0, None
            while True:
                before = self.transport.stats.attempts
                data = self.transport.run(self.transport.suiteql(query, limit, offset))
                rows = data.get("items", [])
                if total is not None and data.get("totalResults") != total:
                    # Rows entered or left the result between pages: offsets shifted. Re-open
                    # the window from the last key handed over rather than risk skipping rows.
                    rows, total = [], -1
                else:
                    total = data.get("totalResults")
                invoices: list[ErpInvoice] = []
                quarantined: list[QuarantinedInvoice] = []
                closed: list[ClosedInvoice] = []
                for row in rows:
                    gone = closed_invoice(row, zone)
                    if gone is not None:
                        closed.append(gone)
                        continue
                    result = validate_row(row, zone)
                    (invoices if isinstance(result, ErpInvoice) else quarantined).append(result)  # type: ignore[arg-type]
                if rows:
                    after = row_watermark(rows[-1], zone)
                handed = max(filter(None, (stored, after)), default=None)
                yield InvoicePage(
                    invoices,
                    quarantined,
                    handed.encode() if handed else watermark,
                    self.transport.stats.attempts - before,
                    closed,
                )
                if total == -1 or not data.get("hasMore"):
                    break
                offset += limit
            if total != -1 and (total or 0) < cap:
                return

    # ---------------------------------------------------------------- settlements
    async def _currency_id(self, settlement: Settlement) -> str:
        currency_id = (await self._currencies()).get(settlement.currency)
        if currency_id is None:
            raise ErpRejectedError(
                f"settlement {settlement.settlement_id}: currency {settlement.currency} is not "
                "enabled in this NetSuite account",
                "CONFIG",
                "currency",
            )
        return currency_id

    async def _upsert(
        self, record_type: str, external_id: str, body: dict[str, Any], replace: str
    ) -> str:
        response = await self.transport.send(
            "PUT",
            f"/record/v1/{record_type}/eid:{external_id}",
            body=exact_json(body),
            params={"replace": replace},
            headers={"X-NetSuite-PropertyNameValidation": self.config.property_validation},
        )
        record_id = _id_from_location(response.headers.get("Location"))
        if record_id is None:  # read it back rather than assume
            found = await self._get(record_type, f"eid:{external_id}")
            if found is None:
                raise ErpUnavailableError(
                    f"NetSuite accepted {record_type} eid:{external_id} but it cannot be read back"
                )
            record_id = str(found["id"])
        return record_id

    async def _get(self, record_type: str, key: str) -> dict[str, Any] | None:
        # Sublists (apply, credit, line) come back as links unless expanded.
        response = await self.transport.send(
            "GET",
            f"/record/v1/{record_type}/{key}",
            allow_404=True,
            params={"expandSubResources": "true"},
        )
        if response.status_code == 404:
            return None
        return json.loads(response.text, parse_float=Decimal)

    async def _post(self, settlement: Settlement) -> PostedSettlement:
        if settlement.erp_system != ERP_SYSTEM:
            raise ErpRejectedError(
                f"settlement {settlement.settlement_id} is for {settlement.erp_system!r}, "
                "not netsuite"
            )
        currency_id = await self._currency_id(settlement)
        sid = settlement.settlement_id
        # Every account is resolved before anything is written: a configuration gap is a
        # refusal with nothing half posted.
        records = self.records
        write_off = (
            records.write_off_body(settlement, currency_id) if settlement.write_offs else None
        )
        journal = (
            records.journal_body(settlement, currency_id) if settlement.journal_lines else None
        )
        records.account(settlement, "crypto_clearing")
        records.ar_account(settlement)
        write_off_id = None
        if write_off is not None:
            write_off_id = await self._upsert(
                "journalEntry", sid + WRITE_OFF_SUFFIX, write_off, "line"
            )
        payment_id = await self._upsert(
            "customerPayment",
            sid,
            records.payment_body(settlement, currency_id, write_off_id),
            "apply,credit",
        )
        journal_id = None
        if journal is not None:
            journal_id = await self._upsert("journalEntry", sid + JOURNAL_SUFFIX, journal, "line")
        return PostedSettlement(
            sid,
            payment_id,
            journal_id,
            tuple((a.invoice_id, a.amount) for a in settlement.applications),
        )

    def ledger_lines(self, settlement: Settlement) -> list[LedgerLine]:
        return self.records.ledger_lines(settlement)

    def post_settlement(self, settlement: Settlement) -> PostedSettlement:
        try:
            return self.transport.run(self._post(settlement))
        except ErpRejectedError as exc:
            if exc.path in PERIOD_FIELDS or "accounting period" in str(exc).lower():
                raise self._period_refusal(settlement, exc) from exc
            raise

    def _period_refusal(self, settlement: Settlement, exc: ErpRejectedError) -> ErpRejectedError:
        """A closed or locked accounting period: not retried; a person decides (the rule is
        never to move an accounting event into another period silently)."""
        on = self.records.tran_date(settlement)
        return ErpRejectedError(
            f"settlement {settlement.settlement_id}: NetSuite refused the posting dated {on} "
            f"because its accounting period is closed or locked ({exc}). Next step: ask the "
            "controller to reopen (or unlock A/R for) that period, then run `paybridge "
            f"settlements requeue {settlement.settlement_id} --reason 'period reopened'`; "
            "PayBridge does not move the posting into another period by itself",
            "PERIOD_CLOSED",
            exc.path or "tranDate",
            exc.status,
        )

    async def _find(self, settlement_id: str) -> PostedSettlement | None:
        payment = await self._get("customerPayment", f"eid:{settlement_id}")
        if payment is None:
            return None
        journal = await self._get("journalEntry", f"eid:{settlement_id}{JOURNAL_SUFFIX}")
        applied = tuple(
            (str(item["doc"]["id"]), Decimal(str(item["amount"])))
            for item in (payment.get("apply") or {}).get("items", [])
            if item.get("apply", True)
        )
        return PostedSettlement(
            settlement_id, str(payment["id"]), str(journal["id"]) if journal else None, applied
        )

    def find_settlement(self, settlement_id: str) -> PostedSettlement | None:
        return self.transport.run(self._find(settlement_id))

    # ---------------------------------------------------------------- tie-outs
    def cleared_items(self, since: datetime | None = None) -> list[ClearedItem]:
        return self.transport.run(self._cleared_items(since))

    async def _cleared_items(self, since: datetime | None) -> list[ClearedItem]:
        items: list[ClearedItem] = []
        last_id = 0
        while True:
            conditions = ["t.type = 'CustPymt'", "t.externalid IS NOT NULL", f"t.id > {last_id}"]
            if since is not None:
                stamp = since.astimezone(UTC).strftime(PY_TIMESTAMP_FMT)
                conditions.append(
                    f"t.lastmodifieddate >= TO_TIMESTAMP('{stamp}', '{TIMESTAMP_FMT}')"
                )
            query = (
                "SELECT t.id AS id, t.externalid AS externalid, t.entity AS entity, "
                "cur.symbol AS currency_code, t.foreigntotal AS amount, "
                "TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, "
                f"TO_CHAR(t.lastmodifieddate, '{TIMESTAMP_FMT}') AS lastmodified "
                "FROM transaction t LEFT JOIN currency cur ON cur.id = t.currency "
                f"WHERE {' AND '.join(conditions)} ORDER BY t.id"
            )
            offset, total = 0, 0
            while True:
                data = await self.transport.suiteql(query, self.config.page_size, offset)
                total = data.get("totalResults", 0)
                for row in data.get("items", []):
                    items.append(
                        ClearedItem(
                            settlement_id=row["externalid"],
                            payment_id=row["id"],
                            customer_id=row.get("entity", ""),
                            currency=row.get("currency_code", ""),
                            amount=Decimal(row["amount"]),
                            posted_on=date.fromisoformat(row["trandate"])
                            if row.get("trandate")
                            else None,
                            last_modified=datetime.strptime(
                                row["lastmodified"], PY_TIMESTAMP_FMT
                            ).replace(tzinfo=UTC)
                            if row.get("lastmodified")
                            else None,
                        )
                    )
                    last_id = int(row["id"])
                if not data.get("hasMore"):
                    break
                offset += self.config.page_size
            if total < min(SUITEQL_ROW_CAP, self.config.page_size * 1000):
                return items

    # ---------------------------------------------------------------- connection test
    def test_connection(self) -> ConnectionCheck:
        endpoint = self.transport.endpoint
        try:
            self.transport.run(self._probe())
        except ErpAuthError as exc:
            problem = (
                ConnectionProblem.BAD_CREDENTIALS
                if exc.status == 401
                else ConnectionProblem.MISSING_PERMISSIONS
            )
            return ConnectionCheck(problem, str(exc), {"endpoint": endpoint, "code": exc.code})
        except ErpUnavailableError as exc:
            return ConnectionCheck(
                ConnectionProblem.UNREACHABLE,
                f"NetSuite at {endpoint} is unreachable or failing: {exc.__cause__ or exc}. Check "
                "the account id / base URL, DNS, proxy and firewall.",
                {"endpoint": endpoint},
            )
        except ErpError as exc:
            return ConnectionCheck(ConnectionProblem.UNEXPECTED, str(exc), {"endpoint": endpoint})
        return ConnectionCheck(
            ConnectionProblem.OK,
            f"connected to NetSuite account {self.config.account} at {endpoint}: SuiteQL, "
            "invoice, customerPayment and journalEntry access confirmed",
            {"endpoint": endpoint, "currencies": sorted(self._currency_ids or {})},
        )

    async def _probe(self) -> None:
        # Few attempts: an admin waiting on a wrong host should hear back quickly.
        await self.transport.send(
            "POST",
            "/query/v1/suiteql",
            body=json.dumps({"q": "SELECT cur.id AS id, cur.symbol AS symbol FROM currency cur"}),
            params={"limit": 1000, "offset": 0},
            headers={"Prefer": "transient"},
            max_attempts=2,
        )
        await self._currencies()
        for record_type in ("invoice", "customerPayment", "journalEntry"):
            await self.transport.send(
                "GET", f"/record/v1/{record_type}", params={"limit": 1}, max_attempts=2
            )
