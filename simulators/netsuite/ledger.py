"""Chart of accounts, subsidiaries, currencies, accounting periods and the general ledger.

A mixin of ``Account`` (state.py): the company set-up NetSuite validates postings against, and
the GL every posted transaction writes to, in each subsidiary's base currency. Sources for each
rule are in README.md ("Ledger" and "Periods").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.netsuite.errors import RecordError, invalid_value, missing_value

# NetSuite's account types (SuiteQL account.accttype values).
ACCOUNT_TYPES = frozenset(
    {
        "Bank", "AcctRec", "OthCurrAsset", "FixedAsset", "OthAsset", "AcctPay", "OthCurrLiab",
        "LongTermLiab", "Equity", "Income", "COGS", "Expense", "OthIncome", "OthExpense",
    }
)  # fmt: skip
DEPOSIT_ACCOUNT_TYPES = frozenset({"Bank", "OthCurrAsset"})
AR_TRANSACTION_TYPES = frozenset({"CustInvc", "CustPymt", "CustCred"})
UNDEPOSITED_FUNDS = "UndepFunds"
REALIZED_FX = "RealizedERV"

# (id, symbol, decimal places)
SEED_CURRENCIES = ((1, "USD", 2), (2, "EUR", 2), (3, "GBP", 2), (4, "JPY", 0), (5, "BTC", 8),
                   (6, "BHD", 3))  # fmt: skip
# Rates of the simulated "Currency Exchange Rates" table, used only for invoices seeded by helpers.
SEED_RATES = {
    (2, 1): Decimal("1.10"), (3, 1): Decimal("1.25"), (4, 1): Decimal("0.0067"),
    (6, 1): Decimal("2.65"), (1, 2): Decimal("0.91"), (3, 2): Decimal("1.15"),
    (4, 2): Decimal("0.0061"), (6, 2): Decimal("2.42"),
}  # fmt: skip
# (id, number, name, type, subsidiaries, currency id, special type)
SEED_ACCOUNTS: tuple[tuple[int, str, str, str, tuple[int, ...], int | None, str | None], ...] = (
    (119, "1200", "Accounts Receivable", "AcctRec", (1, 2), None, "AcctRec"),
    (121, "1201", "Accounts Receivable - EU", "AcctRec", (2,), None, None),
    (116, "1150", "Undeposited Funds", "OthCurrAsset", (1, 2), None, UNDEPOSITED_FUNDS),
    (117, "7950", "Realized Gain/Loss", "OthIncome", (1, 2), None, REALIZED_FX),
    (400, "4000", "Sales", "Income", (1, 2), None, None),
    (101, "1000", "Operating Bank", "Bank", (1,), 1, None),
    (102, "1001", "EU Bank", "Bank", (2,), 2, None),
    (301, "1090", "Crypto Clearing", "OthCurrAsset", (1,), None, None),
    (302, "1510", "Digital Assets - Stablecoins", "OthCurrAsset", (1,), None, None),
    (305, "1520", "Digital Assets - Crypto", "OthAsset", (1,), None, None),
    (303, "7900", "Crypto Settlement Gain/Loss", "OthIncome", (1,), None, None),
    (304, "6950", "Payment Write-offs", "Expense", (1,), None, None),
    (306, "2350", "Customer Deposits", "OthCurrLiab", (1,), None, None),
    (311, "1091", "Crypto Clearing - EU", "OthCurrAsset", (2,), None, None),
    (312, "1511", "Digital Assets - Stablecoins - EU", "OthCurrAsset", (2,), None, None),
    (315, "1521", "Digital Assets - Crypto - EU", "OthAsset", (2,), None, None),
    (313, "7901", "Crypto Settlement Gain/Loss - EU", "OthIncome", (2,), None, None),
    (314, "6951", "Payment Write-offs - EU", "Expense", (2,), None, None),
    (316, "2351", "Customer Deposits - EU", "OthCurrLiab", (2,), None, None),
)


@dataclass(frozen=True)
class GlLine:
    """One posted general-ledger line, amounts in the subsidiary's base currency."""

    transaction: int
    type: str
    external_id: str | None
    subsidiary: int
    account: int
    debit: Decimal
    credit: Decimal
    foreign_debit: Decimal
    foreign_credit: Decimal
    currency: int
    exchange_rate: Decimal
    entity: int | None
    trandate: date
    period: int | None
    memo: str | None


class LedgerMixin:
    """Company set-up and GL; expects the attributes declared on ``Account``."""

    subsidiaries: dict[int, dict[str, Any]]
    currencies: dict[int, dict[str, Any]]
    accounts: dict[int, dict[str, Any]]
    periods: dict[int, dict[str, Any]]
    transactions: dict[int, dict[str, Any]]
    customers: dict[int, dict[str, Any]]
    exchange_rates: dict[tuple[int, int], Decimal]
    gl: dict[int, list[dict[str, Any]]]
    lock: Any

    def _new_id(self) -> int:
        raise NotImplementedError

    def _touch(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- set-up
    def seed_ledger(self) -> None:
        self.subsidiaries.setdefault(1, {"id": 1, "name": "Parent Company", "currency": 1})
        self.subsidiaries.setdefault(2, {"id": 2, "name": "EU GmbH", "currency": 2})
        for cid, symbol, places in SEED_CURRENCIES:
            self.currencies.setdefault(
                cid, {"id": cid, "symbol": symbol, "name": symbol, "precision": places}
            )
        for aid, number, name, kind, subs, currency, special in SEED_ACCOUNTS:
            self.accounts.setdefault(aid, _account_row(aid, number, name, kind, subs, currency))
            if special:
                self.accounts[aid]["sspecacct"] = special
        for key, rate in SEED_RATES.items():
            self.exchange_rates.setdefault(key, rate)

    def add_subsidiary(self, name: str, currency_id: int) -> int:
        with self.lock:
            sid = self._new_id()
            self.subsidiaries[sid] = {"id": sid, "name": name, "currency": currency_id}
            for account in self.accounts.values():  # system accounts serve every subsidiary
                if account.get("sspecacct") in (UNDEPOSITED_FUNDS, REALIZED_FX):
                    account["subsidiaries"].add(sid)
            self._touch()
            return sid

    def set_base_currency(self, subsidiary_id: int, currency_id: int) -> None:
        with self.lock:
            self.subsidiaries[subsidiary_id]["currency"] = currency_id
            self._touch()

    def add_account(
        self,
        number: str,
        name: str,
        accttype: str,
        subsidiaries: tuple[int, ...] | list[int],
        currency_id: int | None = None,
    ) -> int:
        if accttype not in ACCOUNT_TYPES:
            raise ValueError(f"unknown account type {accttype!r}; one of {sorted(ACCOUNT_TYPES)}")
        with self.lock:
            aid = self._new_id()
            self.accounts[aid] = _account_row(
                aid, number, name, accttype, tuple(subsidiaries), currency_id
            )
            self._touch()
            return aid

    def add_accounting_period(self, name: str, start: date, end: date) -> int:
        with self.lock:
            pid = self._new_id()
            self.periods[pid] = {
                "id": pid, "periodname": name, "startdate": start, "enddate": end,
                "closed": "F", "arlocked": "F", "aplocked": "F", "alllocked": "F",
                "isposting": "T", "isquarter": "F", "isyear": "F", "isadjust": "F",
            }  # fmt: skip
            self._touch()
            return pid

    def add_monthly_periods(self, first: date, months: int) -> list[int]:
        """Calendar-month posting periods starting with the month of ``first``."""
        ids, start = [], first.replace(day=1)
        for _ in range(months):
            following = (start + timedelta(days=32)).replace(day=1)
            ids.append(
                self.add_accounting_period(
                    start.strftime("%b %Y"), start, following - timedelta(days=1)
                )
            )
            start = following
        return ids

    def close_period(self, period_id: int) -> None:
        with self.lock:
            self.periods[period_id].update(closed="T", arlocked="T", aplocked="T", alllocked="T")
            self._touch()

    def lock_period(self, period_id: int, ar: bool = True, all_: bool = False) -> None:
        with self.lock:
            period = self.periods[period_id]
            period["arlocked"] = "T" if ar else "F"
            period["alllocked"] = "T" if all_ else "F"
            self._touch()

    # ---------------------------------------------------------------- validation helpers
    def base_currency(self, subsidiary_id: int) -> int:
        return int(self.subsidiaries[subsidiary_id]["currency"])

    def to_base(self, amount: Decimal, rate: Decimal, subsidiary_id: int) -> Decimal:
        places = self.currencies[self.base_currency(subsidiary_id)].get("precision", 2)
        return (amount * rate).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    def check_subsidiary(self, subsidiary_id: int, path: str = "subsidiary") -> None:
        if subsidiary_id not in self.subsidiaries:
            raise invalid_value(subsidiary_id, path)

    def check_account(
        self,
        account_id: int,
        subsidiary_id: int,
        path: str,
        types: frozenset[str] | None = None,
        currency_id: int | None = None,
    ) -> dict[str, Any]:
        """Account exists, is active, allowed for the subsidiary, of a type the field accepts."""
        account = self.accounts.get(account_id)
        if (
            account is None
            or account.get("isinactive") == "T"
            or subsidiary_id not in account["subsidiaries"]
            or (types is not None and account["accttype"] not in types)
            or (currency_id is not None and account.get("currency") not in (None, currency_id))
        ):
            raise invalid_value(account_id, path)
        return account

    def special_account(self, special: str, subsidiary_id: int) -> int:
        for aid, account in sorted(self.accounts.items()):
            if account.get("sspecacct") == special and subsidiary_id in account["subsidiaries"]:
                return aid
        raise RecordError(
            400, "USER_ERROR", f"No {special} account for subsidiary {subsidiary_id}."
        )

    def default_ar_account(self, subsidiary_id: int) -> int:
        """The only A/R account of the subsidiary; NetSuite asks for one when there are several."""
        found = [
            aid
            for aid, a in sorted(self.accounts.items())
            if a["accttype"] == "AcctRec" and subsidiary_id in a["subsidiaries"]
        ]
        if len(found) != 1:
            raise missing_value("A/R Account", "arAcct")
        return found[0]

    def period_for(
        self, tran_date: date, tran_type: str, explicit: int | None = None, path: str = "tranDate"
    ) -> int | None:
        """The posting period, refusing closed/locked ones (nothing is checked without periods)."""
        if explicit is not None:
            period = self.periods.get(explicit)
            if period is None:
                raise invalid_value(explicit, "postingPeriod")
            path = "postingPeriod"
        else:
            if not self.periods:
                return None
            covering = [
                p
                for p in self.periods.values()
                if p["isposting"] == "T" and p["startdate"] <= tran_date <= p["enddate"]
            ]
            if not covering:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"There is no accounting period for the transaction date {tran_date}. Set up "
                    "the period or use a date inside an open period.",
                    path,
                )
            period = covering[0]
        name = period["periodname"]
        if period["closed"] == "T":
            state = "closed"
        elif period["alllocked"] == "T" or (
            period["arlocked"] == "T" and tran_type in AR_TRANSACTION_TYPES
        ):
            state = "locked"
        else:
            return int(period["id"])
        raise RecordError(
            400,
            "USER_ERROR",
            f"The accounting period {name} is {state}: you cannot post a {tran_type} dated "
            f"{tran_date} into it. Use a date in an open period or ask an accountant to reopen it.",
            path,
        )

    # ---------------------------------------------------------------- GL
    def post_gl(self, transaction_id: int, lines: list[dict[str, Any]]) -> None:
        """Replace the transaction's GL impact (an edit re-posts, as NetSuite does)."""
        if lines:
            self.gl[transaction_id] = lines
        else:
            self.gl.pop(transaction_id, None)

    def gl_line(
        self,
        row: dict[str, Any],
        account: int,
        foreign_debit: Decimal = Decimal(0),
        foreign_credit: Decimal = Decimal(0),
        *,
        entity: int | None = None,
        memo: str | None = None,
        kind: str | None = None,
        base_debit: Decimal | None = None,
        base_credit: Decimal | None = None,
    ) -> dict[str, Any]:
        sub, rate = int(row["subsidiary"]), Decimal(row.get("exchangerate") or 1)
        return {
            "account": account,
            "type": kind or row["type"],
            "subsidiary": sub,
            "foreign_debit": foreign_debit,
            "foreign_credit": foreign_credit,
            "debit": self.to_base(foreign_debit, rate, sub) if base_debit is None else base_debit,
            "credit": self.to_base(foreign_credit, rate, sub)
            if base_credit is None
            else base_credit,
            "currency": row.get("currency"),
            "exchange_rate": rate,
            "entity": entity,
            "memo": memo,
        }

    def gl_lines(self, subsidiary_id: int | None = None) -> list[GlLine]:
        with self.lock:
            out = []
            for tid, lines in sorted(self.gl.items()):
                row = self.transactions[tid]
                for line in lines:
                    if subsidiary_id is not None and line["subsidiary"] != subsidiary_id:
                        continue
                    out.append(
                        GlLine(
                            tid,
                            line["type"],
                            row.get("externalid"),
                            line["subsidiary"],
                            line["account"],
                            line["debit"],
                            line["credit"],
                            line["foreign_debit"],
                            line["foreign_credit"],
                            line["currency"],
                            line["exchange_rate"],
                            line["entity"],
                            row["trandate"],
                            row.get("postingperiod"),
                            line["memo"],
                        )
                    )
            return out

    def trial_balance(self, subsidiary_id: int) -> dict[str, Decimal]:
        """Debit minus credit per account id, base currency; every account ever posted to."""
        balances: dict[str, Decimal] = {}
        for line in self.gl_lines(subsidiary_id):
            key = str(line.account)
            balances[key] = balances.get(key, Decimal(0)) + line.debit - line.credit
        return balances

    def accounting_lines(self) -> list[dict[str, Any]]:
        """SuiteQL ``transactionaccountingline``: one row per GL line (accounting book 1)."""
        rows = []
        for tid, lines in self.gl.items():
            row = self.transactions[tid]
            for index, line in enumerate(lines):
                rows.append(
                    {
                        "transaction": tid, "transactionline": index, "accountingbook": 1,
                        "account": line["account"], "debit": line["debit"] or None,
                        "credit": line["credit"] or None,
                        "amount": line["debit"] - line["credit"],
                        "netamount": line["debit"] - line["credit"], "posting": "T",
                        "exchangerate": line["exchange_rate"],
                        "amountunpaid": self.to_base(
                            row["foreignamountunpaid"], line["exchange_rate"], line["subsidiary"]
                        )
                        if index == 0 and row["type"] == "CustInvc"
                        else None,
                    }
                )  # fmt: skip
        return rows


def _account_row(
    aid: int, number: str, name: str, kind: str, subs: tuple[int, ...], currency: int | None
) -> dict[str, Any]:
    return {
        "id": aid, "acctnumber": number, "acctname": name, "accttype": kind, "sspecacct": None,
        "currency": currency, "isinactive": "F", "subsidiaries": set(subs),
    }  # fmt: skip
