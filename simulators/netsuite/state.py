"""In-memory NetSuite account: records, SuiteQL tables and the business rules we rely on.

Thread-safe through one lock: the HTTP server runs a thread per connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.netsuite import suiteql

INVOICE_OPEN = "A"
INVOICE_PAID_IN_FULL = "B"


class RecordError(Exception):
    """A request NetSuite would refuse; rendered as ``o:errorDetails``."""

    def __init__(
        self, status: int, code: str, detail: str, path: str | None = None, title: str = ""
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.title = title or {
            400: "Bad Request",
            403: "Forbidden",
            404: "Record not found",
        }.get(status, "Error")


def _now() -> datetime:
    """NetSuite's lastmodifieddate has second precision."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def _ref_id(body: dict[str, Any], name: str, path: str | None = None) -> int:
    value = body.get(name)
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        raise RecordError(400, "USER_ERROR", f"Please enter value(s) for: {name}", path or name)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(
            400, "INVALID_FLD_VALUE", f"Invalid value {value!r} for {name}", path or name
        ) from exc


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}: {value!r}", name)
    try:
        amount = Decimal(value)
    except ArithmeticError as exc:
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}", name) from exc
    if not amount.is_finite():
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}", name)
    return amount


@dataclass
class Account:
    """The simulated company: tables keyed by internal id."""

    subsidiaries: dict[int, dict[str, Any]] = field(default_factory=dict)
    currencies: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[int, dict[str, Any]] = field(default_factory=dict)
    # customerPayment apply lines and journal lines, by transaction id
    applications: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    journal_lines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    external_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    next_id: int = 1000
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ---------------------------------------------------------------- helpers
    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _touch(self) -> None:
        self.version += 1

    def seed_basics(self) -> None:
        """One subsidiary, USD/EUR/GBP/JPY (+ BTC, not ISO 4217), the GL accounts tests use."""
        with self.lock:
            self.subsidiaries.setdefault(1, {"id": 1, "name": "Parent Company"})
            for cid, symbol in ((1, "USD"), (2, "EUR"), (3, "GBP"), (4, "JPY"), (5, "BTC")):
                self.currencies.setdefault(cid, {"id": cid, "symbol": symbol, "name": symbol})
            for aid, number, name in (
                (119, "1200", "Accounts Receivable"),
                (301, "1090", "Crypto Clearing"),
                (302, "1510", "Digital Assets - Stablecoins"),
                (303, "7900", "Crypto Settlement Gain/Loss"),
                (304, "6950", "Payment Write-offs"),
            ):
                self.accounts.setdefault(aid, {"id": aid, "acctnumber": number, "acctname": name})
            self._touch()

    def add_customer(self, name: str, currency_id: int = 1, subsidiary_id: int = 1) -> int:
        with self.lock:
            cid = self._new_id()
            self.customers[cid] = {
                "id": cid,
                "entityid": name,
                "companyname": name,
                "currency": currency_id,
                "subsidiary": subsidiary_id,
                "lastmodifieddate": _now(),
            }
            self._touch()
            return cid

    def add_invoice(
        self,
        customer_id: int | None,
        amount: Decimal,
        currency_id: int | None = 1,
        subsidiary_id: int = 1,
        due_date: date | None = None,
        custom_fields: dict[str, Any] | None = None,
        last_modified: datetime | None = None,
    ) -> int:
        """Seed an invoice as-is (no validation: tests also seed bad data)."""
        with self.lock:
            iid = self._new_id()
            self.transactions[iid] = {
                "id": iid,
                "type": "CustInvc",
                "tranid": f"INV{iid}",
                "entity": customer_id,
                "currency": currency_id,
                "subsidiary": subsidiary_id,
                "trandate": date.today(),
                "duedate": due_date or date.today() + timedelta(days=30),
                "foreigntotal": amount,
                "foreignamountunpaid": amount,
                "foreignamountpaid": Decimal(0),
                "status": INVOICE_OPEN,
                "externalid": None,
                "lastmodifieddate": last_modified or _now(),
                **(custom_fields or {}),
            }
            self._touch()
            return iid

    # ---------------------------------------------------------------- SuiteQL
    def suiteql_tables(self) -> dict[str, Iterable[dict[str, Any]]]:
        mainlines = [
            {
                "transaction": t["id"],
                "mainline": "T",
                "subsidiary": t.get("subsidiary"),
                "entity": t.get("entity"),
            }
            for t in self.transactions.values()
        ]
        return {
            "transaction": list(self.transactions.values()),
            "transactionline": mainlines,
            "customer": list(self.customers.values()),
            "currency": list(self.currencies.values()),
            "subsidiary": list(self.subsidiaries.values()),
            "account": list(self.accounts.values()),
        }

    def run_suiteql(self, text: str) -> list[dict[str, Any]]:
        query = suiteql.parse(text)
        with self.lock:
            return suiteql.execute(query, self.suiteql_tables())

    # ---------------------------------------------------------------- records
    def resolve(self, record_type: str, key: str) -> int | None:
        """``123`` or ``eid:<externalId>`` -> internal id (None when absent)."""
        if key.startswith("eid:"):
            return self.external_ids.get((record_type, key[4:]))
        try:
            rid = int(key)
        except ValueError:
            return None
        table = self._table(record_type)
        return rid if rid in table and self._type_matches(record_type, table[rid]) else None

    def _table(self, record_type: str) -> dict[int, dict[str, Any]]:
        if record_type == "customer":
            return self.customers
        if record_type in ("invoice", "customerPayment", "journalEntry"):
            return self.transactions
        raise RecordError(404, "NONEXISTENT_RECORD_TYPE", f"Unknown record type {record_type}")

    @staticmethod
    def _type_matches(record_type: str, row: dict[str, Any]) -> bool:
        wanted = {"invoice": "CustInvc", "customerPayment": "CustPymt", "journalEntry": "Journal"}
        return record_type == "customer" or row.get("type") == wanted[record_type]

    def get_record(self, record_type: str, key: str) -> dict[str, Any]:
        with self.lock:
            rid = self.resolve(record_type, key)
            if rid is None:
                raise RecordError(
                    404,
                    "NONEXISTENT_ID",
                    f"The record instance does not exist. Provide a valid record instance ID "
                    f"({record_type}/{key}).",
                )
            return self._render(record_type, rid)

    def list_records(self, record_type: str, limit: int, offset: int) -> tuple[list[int], int]:
        with self.lock:
            table = self._table(record_type)
            ids = sorted(r for r, row in table.items() if self._type_matches(record_type, row))
            return ids[offset : offset + limit], len(ids)

    def _render(self, record_type: str, rid: int) -> dict[str, Any]:
        row = self._table(record_type)[rid]

        def ref(value: Any) -> dict[str, str] | None:
            return None if value is None else {"id": str(value)}

        if record_type == "customer":
            return {
                "id": str(rid),
                "entityId": row["entityid"],
                "companyName": row["companyname"],
                "currency": ref(row["currency"]),
                "subsidiary": ref(row["subsidiary"]),
            }
        body: dict[str, Any] = {
            "id": str(rid),
            "externalId": row.get("externalid"),
            "tranId": row.get("tranid"),
            "currency": ref(row.get("currency")),
            "subsidiary": ref(row.get("subsidiary")),
            "tranDate": str(row.get("trandate")),
            "memo": row.get("memo"),
            "lastModifiedDate": row["lastmodifieddate"].isoformat() + "Z",
        }
        if record_type == "invoice":
            body.update(
                entity=ref(row.get("entity")),
                total=row["foreigntotal"],
                amountRemaining=row["foreignamountunpaid"],
                amountPaid=row["foreignamountpaid"],
                dueDate=str(row.get("duedate")),
                status={
                    "id": row["status"],
                    "refName": "Paid In Full" if row["status"] == INVOICE_PAID_IN_FULL else "Open",
                },
            )
        elif record_type == "customerPayment":
            applied = sum((a["amount"] for a in self.applications[rid]), Decimal(0))
            body.update(
                customer=ref(row.get("entity")),
                payment=row["foreigntotal"],
                applied=applied,
                unapplied=row["foreigntotal"] - applied,
                account=ref(row.get("account")),
                arAcct=ref(row.get("aracct")),
                apply={
                    "items": [
                        {"doc": {"id": str(a["doc"])}, "apply": True, "amount": a["amount"]}
                        for a in self.applications[rid]
                    ]
                },
            )
        else:
            body["line"] = {
                "items": [
                    {
                        "account": {"id": str(line["account"])},
                        "debit": line["debit"],
                        "credit": line["credit"],
                        "memo": line.get("memo"),
                        "entity": ref(line.get("entity")),
                    }
                    for line in self.journal_lines[rid]
                ]
            }
        return {k: v for k, v in body.items() if v is not None}

    def create(
        self,
        record_type: str,
        body: dict[str, Any],
        external_id: str | None = None,
        upsert: bool = False,
    ) -> int:
        """POST (external_id from the body) or PUT eid upsert (external_id from the URL)."""
        with self.lock:
            external_id = external_id or body.get("externalId")
            existing = self.external_ids.get((record_type, external_id)) if external_id else None
            if existing is not None and not upsert:
                raise RecordError(
                    400,
                    "DUP_RCRD",
                    f"A {record_type} record with this external ID already exists.",
                    "externalId",
                )
            if existing is not None:
                self._update(record_type, existing, body)
                return existing
            rid = self._insert(record_type, body, external_id)
            if external_id:
                self.external_ids[(record_type, external_id)] = rid
            self._touch()
            return rid

    def patch(self, record_type: str, key: str, body: dict[str, Any]) -> int:
        with self.lock:
            rid = self.resolve(record_type, key)
            if rid is None:
                raise RecordError(404, "NONEXISTENT_ID", f"{record_type}/{key} does not exist.")
            self._update(record_type, rid, body, partial=True)
            return rid

    def _insert(self, record_type: str, body: dict[str, Any], external_id: str | None) -> int:
        if record_type == "customer":
            name = body.get("companyName") or body.get("entityId")
            if not name:
                raise RecordError(400, "USER_ERROR", "Please enter value(s) for: Company Name")
            cid = self.add_customer(
                str(name),
                _ref_id(body, "currency") if "currency" in body else 1,
                _ref_id(body, "subsidiary") if "subsidiary" in body else 1,
            )
            self.customers[cid]["externalid"] = external_id
            return cid
        if record_type == "invoice":
            customer = _ref_id(body, "entity")
            if customer not in self.customers:
                raise RecordError(400, "INVALID_KEY_OR_REF", f"Invalid entity reference {customer}")
            amount = _amount(body.get("total", body.get("amount")), "total")
            rid = self.add_invoice(
                customer,
                amount,
                _ref_id(body, "currency") if "currency" in body else 1,
                _ref_id(body, "subsidiary") if "subsidiary" in body else 1,
                date.fromisoformat(body["dueDate"]) if body.get("dueDate") else None,
                {k.lower(): v for k, v in body.items() if k.startswith("custbody")},
            )
            self.transactions[rid]["externalid"] = external_id
            return rid
        rid = self._new_id()
        self.transactions[rid] = {
            "id": rid,
            "type": "CustPymt" if record_type == "customerPayment" else "Journal",
            "tranid": f"{'PYMT' if record_type == 'customerPayment' else 'JE'}{rid}",
            "externalid": external_id,
            "status": "C" if record_type == "customerPayment" else "B",
            "lastmodifieddate": _now(),
            "trandate": date.today(),
        }
        self.applications[rid] = []
        self.journal_lines[rid] = []
        try:
            self._update(record_type, rid, body)
        except RecordError:
            del self.transactions[rid], self.applications[rid], self.journal_lines[rid]
            raise
        return rid

    def _update(
        self, record_type: str, rid: int, body: dict[str, Any], partial: bool = False
    ) -> None:
        if record_type == "customerPayment":
            self._write_payment(rid, body, partial)
        elif record_type == "journalEntry":
            self._write_journal(rid, body, partial)
        elif record_type in ("customer", "invoice"):
            row = self._table(record_type)[rid]
            for key in ("memo", "companyName"):
                if key in body:
                    row[key.lower()] = body[key]
            for key, value in body.items():
                if key.startswith("custbody"):
                    row[key.lower()] = value
            row["lastmodifieddate"] = _now()
        self._touch()

    def _write_payment(self, rid: int, body: dict[str, Any], partial: bool) -> None:
        """Validate everything first, then swap the application set atomically."""
        row = self.transactions[rid]
        customer = _ref_id(body, "customer") if "customer" in body or not partial else row["entity"]
        if customer not in self.customers:
            raise RecordError(
                400, "INVALID_KEY_OR_REF", f"Invalid customer reference key {customer}.", "customer"
            )
        currency = _ref_id(body, "currency") if "currency" in body else row.get("currency")
        if currency is None:
            currency = self.customers[customer]["currency"]
        payment = (
            _amount(body["payment"], "payment") if "payment" in body else row.get("foreigntotal")
        )
        if payment is None or payment <= 0:
            raise RecordError(400, "USER_ERROR", "Payment amount must be positive.", "payment")
        if "apply" in body:
            items = (body.get("apply") or {}).get("items") or []
            new_apps = []
            for i, item in enumerate(items):
                path = f"apply.items[{i}]"
                if not item.get("apply", False):
                    continue
                doc = _ref_id(item, "doc", f"{path}.doc")
                new_apps.append({"doc": doc, "amount": _amount(item.get("amount"), path)})
        else:
            new_apps = list(self.applications[rid])
        old_by_doc: dict[int, Decimal] = {}
        for app in self.applications.get(rid, []):
            old_by_doc[app["doc"]] = old_by_doc.get(app["doc"], Decimal(0)) + app["amount"]
        new_by_doc: dict[int, Decimal] = {}
        for i, app in enumerate(new_apps):
            path = f"apply.items[{i}].amount"
            invoice = self.transactions.get(app["doc"])
            if invoice is None or invoice["type"] != "CustInvc":
                raise RecordError(
                    400, "INVALID_KEY_OR_REF", f"Invalid apply document {app['doc']}.", path
                )
            if invoice.get("entity") != customer:
                raise RecordError(
                    400, "USER_ERROR", f"Invoice {app['doc']} belongs to another customer.", path
                )
            if invoice.get("currency") != currency:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"Currency of invoice {app['doc']} does not match the payment currency.",
                    path,
                )
            if app["amount"] <= 0:
                raise RecordError(400, "USER_ERROR", "Applied amount must be positive.", path)
            new_by_doc[app["doc"]] = new_by_doc.get(app["doc"], Decimal(0)) + app["amount"]
        for doc, amount in new_by_doc.items():
            invoice = self.transactions[doc]
            available = invoice["foreignamountunpaid"] + old_by_doc.get(doc, Decimal(0))
            if amount > available:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"You cannot apply {amount} to invoice {doc}: amount remaining is {available}.",
                    "apply.items",
                )
        if sum(new_by_doc.values(), Decimal(0)) > payment:
            raise RecordError(
                400, "USER_ERROR", "Total applied exceeds the payment amount.", "payment"
            )
        # Valid: reverse the old applications, apply the new ones.
        now = _now()
        for doc in set(old_by_doc) | set(new_by_doc):
            invoice = self.transactions[doc]
            delta = new_by_doc.get(doc, Decimal(0)) - old_by_doc.get(doc, Decimal(0))
            invoice["foreignamountunpaid"] -= delta
            invoice["foreignamountpaid"] += delta
            invoice["status"] = (
                INVOICE_PAID_IN_FULL if invoice["foreignamountunpaid"] == 0 else INVOICE_OPEN
            )
            if delta:
                invoice["lastmodifieddate"] = now
        self.applications[rid] = new_apps
        row.update(
            entity=customer,
            currency=currency,
            subsidiary=_ref_id(body, "subsidiary")
            if "subsidiary" in body
            else row.get("subsidiary", self.customers[customer]["subsidiary"]),
            foreigntotal=payment,
            account=_ref_id(body, "account") if "account" in body else row.get("account"),
            aracct=_ref_id(body, "arAcct") if "arAcct" in body else row.get("aracct"),
            memo=body.get("memo", row.get("memo")),
            lastmodifieddate=now,
        )
        if body.get("tranDate"):
            row["trandate"] = date.fromisoformat(body["tranDate"])

    def _write_journal(self, rid: int, body: dict[str, Any], partial: bool) -> None:
        row = self.transactions[rid]
        if "line" in body or not partial:
            items = (body.get("line") or {}).get("items") or []
            if len(items) < 2:
                raise RecordError(400, "USER_ERROR", "A journal entry needs two lines.", "line")
            lines = []
            for i, item in enumerate(items):
                account = _ref_id(item, "account", f"line.items[{i}].account")
                if account not in self.accounts:
                    raise RecordError(
                        400,
                        "INVALID_KEY_OR_REF",
                        f"Invalid account reference key {account}.",
                        f"line.items[{i}].account",
                    )
                debit = _amount(item.get("debit", 0), f"line.items[{i}].debit")
                credit = _amount(item.get("credit", 0), f"line.items[{i}].credit")
                if debit < 0 or credit < 0 or (debit == 0) == (credit == 0):
                    raise RecordError(
                        400,
                        "USER_ERROR",
                        "Each line needs exactly one positive debit or credit.",
                        f"line.items[{i}]",
                    )
                entity = item.get("entity")
                lines.append(
                    {
                        "account": account,
                        "debit": debit,
                        "credit": credit,
                        "memo": item.get("memo"),
                        "entity": int(entity["id"]) if isinstance(entity, dict) else entity,
                    }
                )
            debits = sum((x["debit"] for x in lines), Decimal(0))
            credits = sum((x["credit"] for x in lines), Decimal(0))
            if debits != credits:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"The transaction is out of balance: debits {debits}, credits {credits}.",
                    "line",
                )
            self.journal_lines[rid] = lines
        row.update(
            currency=_ref_id(body, "currency") if "currency" in body else row.get("currency", 1),
            subsidiary=_ref_id(body, "subsidiary")
            if "subsidiary" in body
            else row.get("subsidiary", 1),
            memo=body.get("memo", row.get("memo")),
            lastmodifieddate=_now(),
        )
        if body.get("tranDate"):
            row["trandate"] = date.fromisoformat(body["tranDate"])

    # ---------------------------------------------------------------- inspection for tests
    def payments_by_external_id(self) -> dict[str, list[int]]:
        """Every customerPayment per externalId (a duplicate shows as a list of two)."""
        return self.transactions_by_external_id("CustPymt")

    def transactions_by_external_id(self, tran_type: str) -> dict[str, list[int]]:
        with self.lock:
            out: dict[str, list[int]] = {}
            for rid, row in self.transactions.items():
                if row["type"] == tran_type:
                    out.setdefault(str(row.get("externalid")), []).append(rid)
            return out
