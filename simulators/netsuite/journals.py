"""Journal entries: approval, lines, A/R lines with a customer, and their GL impact.

A mixin of ``Account``; sources in README.md ("Journal entries").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.netsuite.errors import (
    RecordError,
    amount,
    flag,
    invalid_value,
    missing_value,
    ref_id,
)
from simulators.netsuite.ledger import REALIZED_FX
from simulators.netsuite.postings import lines_of, now

JOURNAL_PENDING, JOURNAL_APPROVED = "1", "2"


class JournalMixin:
    """journalEntry writer; expects ``Account``'s attributes and the other mixins."""

    customers: dict[int, dict[str, Any]]
    transactions: dict[int, dict[str, Any]]
    journal_lines: dict[int, list[dict[str, Any]]]
    credit_applications: dict[int, list[dict[str, Any]]]
    require_journal_approval: bool

    def base_currency(self, subsidiary_id: int) -> int: ...
    def check_subsidiary(self, subsidiary_id: int, path: str = "subsidiary") -> None: ...
    def check_account(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...
    def special_account(self, special: str, subsidiary_id: int) -> int: ...
    def post_gl(self, transaction_id: int, lines: list[dict[str, Any]]) -> None: ...
    def gl_line(self, row: dict[str, Any], account: int, *args: Any, **kw: Any) -> dict: ...
    def exchange_rate(self, *args: Any) -> Decimal: ...
    def dates(self, *args: Any, **kwargs: Any) -> dict: ...

    def write_journal(
        self, rid: int, body: dict[str, Any], partial: bool, replace: set[str]
    ) -> None:
        row = self.transactions[rid]
        if "subsidiary" not in body and row.get("subsidiary") is None:
            raise missing_value("Subsidiary", "subsidiary")
        subsidiary = ref_id(body, "subsidiary") if "subsidiary" in body else row["subsidiary"]
        self.check_subsidiary(subsidiary)
        currency = ref_id(body, "currency") if "currency" in body else row.get("currency")
        currency = currency or self.base_currency(subsidiary)
        rate = self.exchange_rate(body, row, currency, subsidiary)
        default_approved = not self.require_journal_approval
        approved = (
            flag(body["approved"], "approved")
            if "approved" in body
            else row.get("approved", default_approved)
        )
        lines = self._journal_lines(
            rid, body, subsidiary, currency, "line" in replace or not self.journal_lines[rid]
        )
        dates = self.dates(body, row, "Journal", check=approved)
        used = sum(
            (
                c["amount"]
                for apps in self.credit_applications.values()
                for c in apps
                if c["doc"] == rid
            ),
            Decimal(0),
        )
        if used and (not approved or lines != self.journal_lines[rid]):
            raise RecordError(
                400,
                "USER_ERROR",
                f"Journal entry {rid} is applied to a customer payment as a credit of {used}: "
                "unapply it from the payment before changing or unapproving it.",
                "approved" if not approved else "line",
            )
        self.journal_lines[rid] = lines
        row.update(
            currency=currency, subsidiary=subsidiary, exchangerate=rate, approved=approved,
            approvalstatus=JOURNAL_APPROVED if approved else JOURNAL_PENDING,
            posting="T" if approved else "F", memo=body.get("memo", row.get("memo")),
            lastmodifieddate=now(), **dates,
        )  # fmt: skip
        self._post_journal(rid)

    def _journal_lines(
        self, rid: int, body: dict[str, Any], subsidiary: int, currency: int, replace: bool
    ) -> list[dict[str, Any]]:
        """Lines after the merge; a bank account only takes its own currency."""
        lines = [] if replace else [dict(x) for x in self.journal_lines[rid]]
        for i, item in enumerate(lines_of(body, "line")):
            path = f"line.items[{i}]"
            account = ref_id(item, "account", f"{path}.account")
            acct = self.check_account(account, subsidiary, f"{path}.account", currency_id=currency)
            debit = amount(item.get("debit", 0), f"{path}.debit")
            credit = amount(item.get("credit", 0), f"{path}.credit")
            if debit < 0 or credit < 0 or (debit == 0) == (credit == 0):
                raise RecordError(
                    400, "USER_ERROR", "Each line needs exactly one positive debit or credit.", path
                )
            entity = int(ref_id(item, "entity", f"{path}.entity")) if item.get("entity") else None
            if entity is not None and (
                entity not in self.customers or self.customers[entity]["subsidiary"] != subsidiary
            ):
                raise invalid_value(entity, f"{path}.entity")
            if acct["accttype"] == "AcctRec" and entity is None:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    "An Accounts Receivable line needs a customer: enter a value for Name.",
                    f"{path}.entity",
                )
            line = {
                "account": account,
                "debit": debit,
                "credit": credit,
                "memo": item.get("memo"),
                "entity": entity,
            }
            key = item.get("line")
            if key is not None and not replace and 0 <= int(key) < len(lines):
                lines[int(key)] = line
            else:
                lines.append(line)
        if len(lines) < 2:
            raise RecordError(400, "USER_ERROR", "A journal entry needs two lines.", "line")
        debits = sum((x["debit"] for x in lines), Decimal(0))
        credits = sum((x["credit"] for x in lines), Decimal(0))
        if debits != credits:
            raise RecordError(
                400,
                "USER_ERROR",
                f"The transaction is out of balance: debits {debits}, credits {credits}.",
                "line",
            )
        return lines

    def _post_journal(self, rid: int) -> None:
        row = self.transactions[rid]
        if not row["approved"]:
            self.post_gl(rid, [])
            return
        lines = [
            self.gl_line(
                row, x["account"], x["debit"], x["credit"], entity=x["entity"], memo=x["memo"]
            )
            for x in self.journal_lines[rid]
        ]
        rounding = sum((x["debit"] - x["credit"] for x in lines), Decimal(0))
        if rounding:  # base-currency rounding of a foreign-currency journal
            fx = self.special_account(REALIZED_FX, row["subsidiary"])
            lines.append(
                self.gl_line(
                    row,
                    fx,
                    base_debit=max(-rounding, Decimal(0)),
                    base_credit=max(rounding, Decimal(0)),
                    memo="Rounding",
                )
            )
        self.post_gl(rid, lines)
