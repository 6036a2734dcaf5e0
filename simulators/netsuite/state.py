"""In-memory NetSuite account: records, SuiteQL tables, rendering and the record dispatcher.

Thread-safe through one lock: the HTTP server runs a thread per connection. Business rules live
in the mixins: ``ledger`` (set-up, periods, GL), ``postings`` (payments, journals), ``outside``
(events entered in NetSuite by people, for tests).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.netsuite import suiteql
from simulators.netsuite.errors import RecordError, amount, invalid_value, ref_id, tran_date
from simulators.netsuite.fields import SUITEQL_COLUMNS
from simulators.netsuite.journals import JournalMixin
from simulators.netsuite.ledger import LedgerMixin
from simulators.netsuite.outside import OutsideEventsMixin
from simulators.netsuite.postings import (
    INVOICE_OPEN,
    INVOICE_PAID_IN_FULL,
    INVOICE_VOIDED,
    PostingMixin,
    now,
)

__all__ = ["INVOICE_OPEN", "INVOICE_PAID_IN_FULL", "Account", "RecordError"]
TYPE_OF_RECORD = {
    "invoice": "CustInvc",
    "customerPayment": "CustPymt",
    "journalEntry": "Journal",
    "creditMemo": "CustCred",
}
STATUS_NAMES = {
    INVOICE_OPEN: "Open",
    INVOICE_PAID_IN_FULL: "Paid In Full",
    INVOICE_VOIDED: "Voided",
}


@dataclass
class Account(LedgerMixin, PostingMixin, JournalMixin, OutsideEventsMixin):
    """The simulated company: tables keyed by internal id, and its accounting preferences."""

    subsidiaries: dict[int, dict[str, Any]] = field(default_factory=dict)
    currencies: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    periods: dict[int, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[int, dict[str, Any]] = field(default_factory=dict)
    exchange_rates: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    # customerPayment apply / credit lines and journal lines, by transaction id
    applications: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    credit_applications: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    journal_lines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gl: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    external_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    # Preferences: "Require Approvals on Journal Entries"; Auto Apply's default; the simulator
    # refuses to pick a rate from its table for a REST posting (see README).
    require_journal_approval: bool = True
    auto_apply_default: bool = False
    require_explicit_exchange_rate: bool = True
    time_zone: str = "UTC"
    next_id: int = 1000
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _touch(self) -> None:
        self.version += 1

    def seed_basics(self) -> None:
        """Two subsidiaries (USD, EUR), six currencies, the chart of accounts in README.md."""
        with self.lock:
            self.seed_ledger()
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
                "lastmodifieddate": now(),
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
        *,
        exchange_rate: Decimal | None = None,
        ar_account: int | None = None,
        tran_date: date | None = None,
    ) -> int:
        """Seed an invoice as-is (no validation: tests also seed bad data); posts to the GL."""
        with self.lock:
            iid = self._new_id()
            base = self.subsidiaries.get(subsidiary_id, {}).get("currency")
            if exchange_rate is None:
                exchange_rate = (
                    Decimal(1)
                    if currency_id == base
                    else self.exchange_rates.get((currency_id or 0, base or 0), Decimal(1))
                )
            self.transactions[iid] = {
                "id": iid,
                "type": "CustInvc",
                "tranid": f"INV{iid}",
                "entity": customer_id,
                "currency": currency_id,
                "subsidiary": subsidiary_id,
                "exchangerate": exchange_rate,
                "trandate": tran_date or date.today(),
                "duedate": due_date or date.today() + timedelta(days=30),
                "foreigntotal": amount,
                "foreignamountunpaid": amount,
                "foreignamountpaid": Decimal(0),
                "status": INVOICE_OPEN,
                "externalid": None,
                "aracct": ar_account or 119,
                "income": 400,
                "posting": "T",
                "voided": "F",
                "postingperiod": None,
                "lastmodifieddate": last_modified or now(),
                **(custom_fields or {}),
            }
            self.post_invoice(iid)
            self._touch()
            return iid

    # ---------------------------------------------------------------- SuiteQL
    def suiteql_tables(self, names: Iterable[str] | None = None) -> dict[str, list[dict]]:
        """The SuiteQL tables (only ``names`` when given: the GL view is built on demand)."""
        builders: dict[str, Any] = {
            "transaction": lambda: list(self.transactions.values()),
            "transactionline": lambda: [
                {
                    "id": 0,
                    "transaction": t["id"],
                    "mainline": "T",
                    "subsidiary": t.get("subsidiary"),
                    "entity": t.get("entity"),
                }
                for t in self.transactions.values()
            ],
            "transactionaccountingline": self.accounting_lines,
            "customer": lambda: list(self.customers.values()),
            "currency": lambda: list(self.currencies.values()),
            "subsidiary": lambda: list(self.subsidiaries.values()),
            "account": lambda: [
                {k: v for k, v in a.items() if k != "subsidiaries"} for a in self.accounts.values()
            ],
            "accountsubsidiarymap": lambda: [
                {"account": aid, "subsidiary": sub}
                for aid, a in self.accounts.items()
                for sub in sorted(a["subsidiaries"])
            ],
            "accountingperiod": lambda: list(self.periods.values()),
        }
        wanted = builders.keys() if names is None else [n for n in names if n in builders]
        return {name: builders[name]() for name in wanted}

    def run_suiteql(self, text: str) -> list[dict[str, Any]]:
        query = suiteql.parse(text, self.time_zone)
        needed = {query.table, *(join.table for join in query.joins)}
        with self.lock:
            return suiteql.execute(query, self.suiteql_tables(needed), SUITEQL_COLUMNS)

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
        if record_type in TYPE_OF_RECORD:
            return self.transactions
        raise RecordError(404, "NONEXISTENT_RECORD_TYPE", f"Unknown record type {record_type}")

    @staticmethod
    def _type_matches(record_type: str, row: dict[str, Any]) -> bool:
        return record_type == "customer" or row.get("type") == TYPE_OF_RECORD[record_type]

    def get_record(self, record_type: str, key: str) -> dict[str, Any]:
        """The record with its sublists expanded (HTTP collapses them to links by default)."""
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
            "exchangeRate": row.get("exchangerate"),
            "postingPeriod": ref(row.get("postingperiod")),
            "tranDate": str(row.get("trandate")),
            "memo": row.get("memo"),
            "lastModifiedDate": row["lastmodifieddate"].isoformat() + "Z",
        }
        if record_type in ("invoice", "creditMemo"):
            body.update(
                entity=ref(row.get("entity")),
                account=ref(row.get("aracct")),
                total=row["foreigntotal"],
                amountRemaining=row["foreignamountunpaid"],
                amountPaid=row.get("foreignamountpaid"),
                dueDate=str(row.get("duedate")) if row.get("duedate") else None,
                status={"id": row["status"], "refName": STATUS_NAMES.get(row["status"], "")},
            )
        elif record_type == "customerPayment":
            applied = sum((a["amount"] for a in self.applications[rid]), Decimal(0))
            credits = sum((c["amount"] for c in self.credit_applications[rid]), Decimal(0))
            body.update(
                customer=ref(row.get("entity")),
                payment=row["foreigntotal"],
                total=row["foreigntotal"] + credits,
                applied=applied,
                unapplied=row["foreigntotal"] + credits - applied,
                undepFunds={"id": "T" if row.get("undep", True) else "F"},
                account=ref(row.get("account")),
                arAcct=ref(row.get("aracct")),
                autoApply=row.get("autoapply", False),
                apply={"items": [_applied(a) for a in self.applications[rid]]},
                credit={"items": [_applied(c) for c in self.credit_applications[rid]]},
            )
        else:
            body.update(
                approved=row.get("approved", False),
                approvalStatus={"id": row.get("approvalstatus")},
                line={
                    "items": [
                        {
                            "line": index,
                            "account": {"id": str(line["account"])},
                            "debit": line["debit"],
                            "credit": line["credit"],
                            "memo": line.get("memo"),
                            "entity": ref(line.get("entity")),
                        }
                        for index, line in enumerate(self.journal_lines[rid])
                    ]
                },
            )
        return {k: v for k, v in body.items() if v is not None}

    def create(
        self,
        record_type: str,
        body: dict[str, Any],
        external_id: str | None = None,
        upsert: bool = False,
        replace: set[str] | None = None,
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
                self._update(record_type, existing, body, True, replace or set())
                return existing
            rid = self._insert(record_type, body, external_id)
            if external_id:
                self.external_ids[(record_type, external_id)] = rid
            self._touch()
            return rid

    def patch(
        self, record_type: str, key: str, body: dict[str, Any], replace: set[str] | None = None
    ) -> int:
        with self.lock:
            rid = self.resolve(record_type, key)
            if rid is None:
                raise RecordError(404, "NONEXISTENT_ID", f"{record_type}/{key} does not exist.")
            self._update(record_type, rid, body, True, replace or set())
            return rid

    def _insert(self, record_type: str, body: dict[str, Any], external_id: str | None) -> int:
        if record_type == "customer":
            name = body.get("companyName") or body.get("entityId")
            if not name:
                raise RecordError(400, "USER_ERROR", "Please enter value(s) for: Company Name")
            subsidiary = ref_id(body, "subsidiary") if "subsidiary" in body else 1
            self.check_subsidiary(subsidiary)
            currency = (
                ref_id(body, "currency") if "currency" in body else self.base_currency(subsidiary)
            )
            if currency not in self.currencies:
                raise invalid_value(currency, "currency")
            cid = self.add_customer(str(name), currency, subsidiary)
            self.customers[cid]["externalid"] = external_id
            return cid
        if record_type == "invoice":
            return self._insert_invoice(body, external_id)
        if record_type not in ("customerPayment", "journalEntry"):
            raise RecordError(
                400, "INVALID_REQUEST", f"Creating {record_type} over REST is not modeled."
            )
        rid = self._new_id()
        self.transactions[rid] = {
            "id": rid,
            "type": TYPE_OF_RECORD[record_type],
            "tranid": f"{'PYMT' if record_type == 'customerPayment' else 'JE'}{rid}",
            "externalid": external_id,
            "status": "C" if record_type == "customerPayment" else "B",
            "lastmodifieddate": now(),
            "trandate": None,
            "voided": "F",
            "foreignamountunpaid": Decimal(0),
        }
        self.applications[rid], self.credit_applications[rid], self.journal_lines[rid] = [], [], []
        try:
            self._update(record_type, rid, body, False, {"apply", "credit", "line"})
        except RecordError:
            del self.transactions[rid], self.applications[rid]
            del self.credit_applications[rid], self.journal_lines[rid]
            raise
        return rid

    def _insert_invoice(self, body: dict[str, Any], external_id: str | None) -> int:
        customer = ref_id(body, "entity")
        if customer not in self.customers:
            raise invalid_value(customer, "entity")
        cust = self.customers[customer]
        subsidiary = ref_id(body, "subsidiary") if "subsidiary" in body else cust["subsidiary"]
        currency = ref_id(body, "currency") if "currency" in body else cust["currency"]
        if subsidiary != cust["subsidiary"]:
            raise invalid_value(subsidiary, "subsidiary")
        rate = self.exchange_rate(body, {}, currency, subsidiary)
        ar = ref_id(body, "account") if "account" in body else self.default_ar_account(subsidiary)
        self.check_account(ar, subsidiary, "account", frozenset({"AcctRec"}))
        when = tran_date(body["tranDate"]) if body.get("tranDate") else date.today()
        period = self.period_for(when, "CustInvc")
        rid = self.add_invoice(
            customer,
            amount(body.get("total", body.get("amount")), "total"),
            currency,
            subsidiary,
            date.fromisoformat(body["dueDate"]) if body.get("dueDate") else None,
            {k.lower(): v for k, v in body.items() if k.startswith("custbody")},
            exchange_rate=rate,
            ar_account=ar,
            tran_date=when,
        )
        self.transactions[rid].update(externalid=external_id, postingperiod=period)
        return rid

    def _update(
        self, record_type: str, rid: int, body: dict[str, Any], partial: bool, replace: set[str]
    ) -> None:
        if record_type == "customerPayment":
            self.write_payment(rid, body, partial, replace)
        elif record_type == "journalEntry":
            self.write_journal(rid, body, partial, replace)
        elif record_type in ("customer", "invoice"):
            row = self._table(record_type)[rid]
            for key in ("memo", "companyName"):
                if key in body:
                    row[key.lower()] = body[key]
            for key, value in body.items():
                if key.startswith("custbody"):
                    row[key.lower()] = value
            row["lastmodifieddate"] = now()
        else:
            raise RecordError(400, "INVALID_REQUEST", f"Updating {record_type} is not modeled.")
        self._touch()

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


def _applied(app: dict[str, Any]) -> dict[str, Any]:
    return {"doc": {"id": str(app["doc"])}, "apply": True, "amount": app["amount"]}
