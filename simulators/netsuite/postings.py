"""Customer payments and journal entries: NetSuite's validation, applications and GL impact.

A mixin of ``Account``. Every write validates the whole request first and changes nothing on
error, then re-posts the transaction's GL lines. Rules and their sources: README.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simulators.netsuite.errors import (
    RecordError,
    amount,
    flag,
    invalid_value,
    missing_value,
    ref_id,
    tran_date,
)
from simulators.netsuite.ledger import DEPOSIT_ACCOUNT_TYPES, REALIZED_FX, UNDEPOSITED_FUNDS

INVOICE_OPEN = "A"
INVOICE_PAID_IN_FULL = "B"
INVOICE_VOIDED = "V"


def now() -> datetime:
    """NetSuite's lastmodifieddate has second precision; stored as naive UTC."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def lines_of(body: dict[str, Any], sublist: str) -> list[dict[str, Any]]:
    value = body.get(sublist) or {}
    items = value.get("items") if isinstance(value, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def merge_keyed(
    old: list[dict[str, Any]], body: dict[str, Any], sublist: str, replace: bool
) -> list[dict[str, Any]]:
    """Apply/credit lines are keyed by ``doc``: sent lines update theirs, others stay."""
    by_doc = {} if replace else {a["doc"]: dict(a) for a in old}
    for i, item in enumerate(lines_of(body, sublist)):
        path = f"{sublist}.items[{i}]"
        doc = ref_id(item, "doc", f"{path}.doc")
        if not flag(item.get("apply", True), f"{path}.apply"):
            by_doc.pop(doc, None)
            continue
        by_doc[doc] = {"doc": doc, "amount": amount(item.get("amount"), f"{path}.amount")}
    return list(by_doc.values())


class PostingMixin:
    """customerPayment and journalEntry writers; expects ``Account``'s attributes."""

    transactions: dict[int, dict[str, Any]]
    customers: dict[int, dict[str, Any]]
    accounts: dict[int, dict[str, Any]]
    applications: dict[int, list[dict[str, Any]]]
    credit_applications: dict[int, list[dict[str, Any]]]
    journal_lines: dict[int, list[dict[str, Any]]]
    require_journal_approval: bool
    require_explicit_exchange_rate: bool
    auto_apply_default: bool

    # provided by LedgerMixin
    def base_currency(self, subsidiary_id: int) -> int: ...
    def check_subsidiary(self, subsidiary_id: int, path: str = "subsidiary") -> None: ...
    def check_account(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...
    def special_account(self, special: str, subsidiary_id: int) -> int: ...
    def default_ar_account(self, subsidiary_id: int) -> int: ...
    def period_for(self, *args: Any, **kwargs: Any) -> int | None: ...
    def post_gl(self, transaction_id: int, lines: list[dict[str, Any]]) -> None: ...
    def gl_line(self, row: dict[str, Any], account: int, *args: Any, **kw: Any) -> dict: ...
    def to_base(self, value: Decimal, rate: Decimal, subsidiary_id: int) -> Decimal: ...

    # ---------------------------------------------------------------- shared
    def exchange_rate(
        self, body: dict[str, Any], row: dict[str, Any], currency: int, subsidiary: int
    ) -> Decimal:
        if currency not in self.currencies:  # type: ignore[attr-defined]
            raise invalid_value(currency, "currency")
        given = body.get("exchangeRate", row.get("exchangerate"))
        if currency == self.base_currency(subsidiary):
            if given is not None and amount(given, "exchangeRate") != 1:
                raise invalid_value(given, "exchangeRate")
            return Decimal(1)
        if given is None:
            if self.require_explicit_exchange_rate:
                raise missing_value("Exchange Rate", "exchangeRate")
            return self.exchange_rates[(currency, self.base_currency(subsidiary))]  # type: ignore[attr-defined]
        rate = amount(given, "exchangeRate")
        if rate <= 0:
            raise invalid_value(given, "exchangeRate")
        return rate

    def dates(self, body: dict[str, Any], row: dict[str, Any], kind: str, check: bool) -> dict:
        when = tran_date(body["tranDate"]) if body.get("tranDate") else row.get("trandate")
        when = when or datetime.now(UTC).date()
        explicit = ref_id(body, "postingPeriod") if body.get("postingPeriod") else None
        period = self.period_for(when, kind, explicit) if check else row.get("postingperiod")
        return {"trandate": when, "postingperiod": period}

    def credit_available(self, doc: int, customer: int) -> Decimal:
        """Unused A/R credit of a journal entry or credit memo for this customer."""
        row = self.transactions.get(doc)
        if row is None or row.get("posting") != "T" or row.get("voided") == "T":
            return Decimal(-1)
        if row["type"] == "Journal":
            total = sum(
                (
                    line["credit"]
                    for line in self.journal_lines[doc]
                    if line["entity"] == customer
                    and self.accounts[line["account"]]["accttype"] == "AcctRec"
                ),
                Decimal(0),
            )
        elif row["type"] == "CustCred" and row.get("entity") == customer:
            total = row["foreigntotal"]
        else:
            return Decimal(-1)
        used = sum(
            (
                a["amount"]
                for apps in self.credit_applications.values()
                for a in apps
                if a["doc"] == doc
            ),
            Decimal(0),
        )
        return total - used

    # ---------------------------------------------------------------- customer payment
    def write_payment(
        self, rid: int, body: dict[str, Any], partial: bool, replace: set[str]
    ) -> None:
        row = self.transactions[rid]
        customer = ref_id(body, "customer") if "customer" in body or not partial else row["entity"]
        if customer not in self.customers:
            raise invalid_value(customer, "customer")
        cust = self.customers[customer]
        subsidiary = ref_id(body, "subsidiary") if "subsidiary" in body else row.get("subsidiary")
        subsidiary = subsidiary or cust["subsidiary"]
        self.check_subsidiary(subsidiary)
        if subsidiary != cust["subsidiary"]:
            raise invalid_value(subsidiary, "subsidiary")
        currency = ref_id(body, "currency") if "currency" in body else row.get("currency")
        currency = currency or cust["currency"]
        payment = (
            amount(body["payment"], "payment") if "payment" in body else row.get("foreigntotal")
        )
        if payment is None or payment <= 0:
            raise RecordError(400, "USER_ERROR", "Payment amount must be positive.", "payment")
        undep = (
            flag(body["undepFunds"], "undepFunds")
            if "undepFunds" in body
            else row.get("undep", True)
        )
        if undep:
            deposit = self.special_account(UNDEPOSITED_FUNDS, subsidiary)
        else:
            if "account" not in body and row.get("account") is None:
                raise missing_value("Account", "account")
            deposit = ref_id(body, "account") if "account" in body else row["account"]
            self.check_account(deposit, subsidiary, "account", DEPOSIT_ACCOUNT_TYPES, currency)
        ar = ref_id(body, "arAcct") if "arAcct" in body else row.get("aracct")
        ar = ar or self.default_ar_account(subsidiary)
        self.check_account(ar, subsidiary, "arAcct", frozenset({"AcctRec"}))
        dates = self.dates(body, row, "CustPymt", check=True)
        auto = (
            flag(body["autoApply"], "autoApply")
            if "autoApply" in body
            else row.get("autoapply", self.auto_apply_default)
        )
        old_apps, old_credits = self.applications[rid], self.credit_applications[rid]
        old_by_doc = _by_doc(old_apps)
        credits = merge_keyed(old_credits, body, "credit", "credit" in replace or not old_credits)
        credit_total = Decimal(0)
        for i, credit in enumerate(credits):
            path = f"credit.items[{i}]"
            doc_row = self.transactions.get(credit["doc"])
            available = self.credit_available(credit["doc"], customer) + _by_doc(old_credits).get(
                credit["doc"], Decimal(0)
            )
            if doc_row is None or available < 0 or doc_row.get("currency") != currency:
                raise invalid_value(credit["doc"], f"{path}.doc")
            if credit["amount"] <= 0 or credit["amount"] > available:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"You cannot apply {credit['amount']} of credit {credit['doc']}: "
                    f"{available} is unused.",
                    f"{path}.amount",
                )
            credit_total += credit["amount"]
        if auto:
            apps = self._auto_apply(customer, currency, ar, payment + credit_total, old_by_doc)
        else:
            apps = merge_keyed(old_apps, body, "apply", "apply" in replace or not old_apps)
        for i, app in enumerate(apps):
            self._check_application(app, i, customer, currency, ar, old_by_doc)
        new_by_doc = _by_doc(apps)
        rate = self.exchange_rate(body, row, currency, subsidiary)
        if sum(new_by_doc.values(), Decimal(0)) > payment + credit_total:
            raise RecordError(
                400,
                "USER_ERROR",
                "Total applied exceeds the payment amount plus the credits applied.",
                "payment",
            )
        # Valid: reverse the old applications, apply the new ones.
        stamp = now()
        for doc in set(old_by_doc) | set(new_by_doc):
            invoice = self.transactions[doc]
            delta = new_by_doc.get(doc, Decimal(0)) - old_by_doc.get(doc, Decimal(0))
            invoice["foreignamountunpaid"] -= delta
            invoice["foreignamountpaid"] += delta
            invoice["status"] = (
                INVOICE_PAID_IN_FULL if invoice["foreignamountunpaid"] == 0 else INVOICE_OPEN
            )
            if delta:
                invoice["lastmodifieddate"] = stamp
        for doc in {c["doc"] for c in credits} | {c["doc"] for c in old_credits}:
            self.transactions[doc]["lastmodifieddate"] = stamp
        self.applications[rid] = apps
        self.credit_applications[rid] = credits
        row.update(
            entity=customer, currency=currency, subsidiary=subsidiary, exchangerate=rate,
            foreigntotal=payment, account=None if undep else deposit, undep=undep, aracct=ar,
            autoapply=auto, memo=body.get("memo", row.get("memo")), lastmodifieddate=stamp,
            posting="T", **dates,
        )  # fmt: skip
        self._post_payment(rid, deposit)

    def _auto_apply(
        self, customer: int, currency: int, ar: int, available: Decimal, old: dict[int, Decimal]
    ) -> list[dict[str, Any]]:
        """Oldest open receivables first (Oracle: Auto Apply); credits are never auto-applied."""
        apps = []
        candidates = sorted(
            (
                t
                for t in self.transactions.values()
                if t["type"] == "CustInvc"
                and (t.get("entity"), t.get("currency"), t.get("aracct"))
                == (customer, currency, ar)
                and t["status"] != INVOICE_VOIDED
            ),
            key=lambda t: (t["trandate"], t["id"]),
        )
        for invoice in candidates:
            open_amount = invoice["foreignamountunpaid"] + old.get(invoice["id"], Decimal(0))
            take = min(open_amount, available)
            if take > 0:
                apps.append({"doc": invoice["id"], "amount": take})
                available -= take
        return apps

    def _check_application(
        self,
        app: dict[str, Any],
        i: int,
        customer: int,
        currency: int,
        ar: int,
        old: dict[int, Decimal],
    ) -> None:
        path = f"apply.items[{i}]"
        invoice = self.transactions.get(app["doc"])
        if invoice is None or invoice["type"] != "CustInvc" or invoice["status"] == INVOICE_VOIDED:
            raise invalid_value(app["doc"], f"{path}.doc")
        if invoice.get("entity") != customer:
            raise RecordError(
                400,
                "USER_ERROR",
                f"Invoice {app['doc']} belongs to another customer.",
                f"{path}.doc",
            )
        if invoice.get("currency") != currency:
            raise RecordError(
                400,
                "USER_ERROR",
                f"Currency of invoice {app['doc']} does not match the payment currency.",
                f"{path}.doc",
            )
        if invoice.get("aracct") != ar:
            raise invalid_value(app["doc"], f"{path}.doc")  # only invoices of the A/R account list
        if app["amount"] <= 0:
            raise RecordError(
                400, "USER_ERROR", "Applied amount must be positive.", f"{path}.amount"
            )
        available = invoice["foreignamountunpaid"] + old.get(app["doc"], Decimal(0))
        if app["amount"] > available:
            raise RecordError(
                400,
                "USER_ERROR",
                f"You cannot apply {app['amount']} to invoice {app['doc']}: "
                f"amount remaining is {available}.",
                f"{path}.amount",
            )

    def _post_payment(self, rid: int, deposit: int) -> None:
        """Dr deposit account / Cr A/R for the whole payment; realised FX per applied invoice."""
        row = self.transactions[rid]
        pay = row["foreigntotal"]
        lines = [
            self.gl_line(row, deposit, pay, entity=row["entity"]),
            self.gl_line(row, row["aracct"], Decimal(0), pay, entity=row["entity"]),
        ]
        fx_account = self.special_account(REALIZED_FX, row["subsidiary"])
        for app in self.applications[rid]:
            invoice = self.transactions[app["doc"]]
            inv_rate = Decimal(invoice.get("exchangerate") or 1)
            diff = self.to_base(
                app["amount"], row["exchangerate"], row["subsidiary"]
            ) - self.to_base(app["amount"], inv_rate, row["subsidiary"])
            if diff:
                gain, loss = max(diff, Decimal(0)), max(-diff, Decimal(0))
                memo = f"Realized FX on invoice {app['doc']}"
                ar_side = {"base_debit": gain, "base_credit": loss}
                fx_side = {"base_debit": loss, "base_credit": gain}
                lines += [
                    self.gl_line(row, row["aracct"], kind="FxReval", memo=memo, **ar_side),
                    self.gl_line(row, fx_account, kind="FxReval", memo=memo, **fx_side),
                ]
        self.post_gl(rid, lines)

    # ---------------------------------------------------------------- invoice
    def post_invoice(self, iid: int) -> None:
        """Dr A/R / Cr Sales; an invoice seeded with bad data (no customer...) does not post."""
        row = self.transactions[iid]
        total = row["foreigntotal"]
        if (
            row.get("entity") not in self.customers
            or row.get("currency") not in self.currencies  # type: ignore[attr-defined]
            or total <= 0
            or row["status"] == INVOICE_VOIDED
        ):
            self.post_gl(iid, [])
            return
        self.post_gl(
            iid,
            [
                self.gl_line(row, row["aracct"], total, entity=row["entity"]),
                self.gl_line(row, row["income"], Decimal(0), total),
            ],
        )


def _by_doc(apps: list[dict[str, Any]]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    for app in apps:
        out[app["doc"]] = out.get(app["doc"], Decimal(0)) + app["amount"]
    return out


__all__ = ["INVOICE_OPEN", "INVOICE_PAID_IN_FULL", "INVOICE_VOIDED", "PostingMixin", "date", "now"]
