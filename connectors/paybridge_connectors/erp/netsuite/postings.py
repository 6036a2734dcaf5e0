"""The records a settlement becomes in NetSuite, built from one connection's settings.

Pure: no HTTP. Every account is the settlement's subsidiary's own (a missing one is a refusal
naming the setting); the receivables account is the invoice's. See the connector README,
"What NetSuite holds after a settlement (and why)".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.protocol import ErpRejectedError

JOURNAL_SUFFIX = "-JE"
WRITE_OFF_SUFFIX = "-WO"
ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerLine:
    """One general-ledger line a settlement's record posts (invoice currency)."""

    external_id: str
    account: str
    debit: Decimal
    credit: Decimal


class SettlementRecords:
    """Request bodies (and their general-ledger effect) of one connection's settlements."""

    def __init__(self, config: NetSuiteConnectionConfig) -> None:
        self.config = config

    def account(self, settlement: Settlement, role: str, key: str = "") -> dict[str, str]:
        """The subsidiary's own account for a role (and key); a missing one is a refusal
        naming the setting, never another subsidiary's account."""
        sid, subsidiary = settlement.settlement_id, settlement.company
        own = self.config.accounts.get(subsidiary)
        account = own.account(role, key) if own else None
        if not account:
            setting = (
                f"accounts.{subsidiary}"
                + (f".{role}" if own else "")
                + (f".{key}" if own and key and role != "settlement_gain_loss" else "")
            )
            raise ErpRejectedError(
                f"settlement {sid}: no NetSuite GL account configured for {role}"
                f"{f' {key!r}' if key else ''} in subsidiary {subsidiary} (connection "
                f"{self.config.name}, setting {setting})",
                "CONFIG",
                setting,
            )
        return {"id": account}

    def ar_account(self, settlement: Settlement) -> dict[str, str]:
        if not settlement.ar_account:
            raise ErpRejectedError(
                f"settlement {settlement.settlement_id}: the A/R account of invoice(s) "
                f"{[a.invoice_id for a in settlement.applications]} is unknown (synced before "
                "PayBridge read it); run `paybridge erp sync --full`, then requeue the settlement",
                "CONFIG",
                "arAcct",
            )
        return {"id": settlement.ar_account}

    def tran_date(self, settlement: Settlement) -> date | None:
        """The calendar date of the last receipt's block in the subsidiary's time zone (what a
        bookkeeper in that office would write on the deposit slip)."""
        if settlement.received_at is not None:
            return settlement.received_at.astimezone(self.config.zone_of(settlement.company)).date()
        return settlement.value_date

    def header(self, settlement: Settlement, currency_id: str) -> dict[str, Any]:
        header: dict[str, Any] = {
            "subsidiary": {"id": settlement.company},
            "currency": {"id": currency_id},
        }
        if settlement.exchange_rate is not None:
            header["exchangeRate"] = settlement.exchange_rate
        tran_date = self.tran_date(settlement)
        if tran_date is not None:
            header["tranDate"] = tran_date
        return header

    def memo(self, settlement: Settlement) -> str:
        sid = settlement.settlement_id
        memo = settlement.memo or f"PayBridge settlement {sid}"
        if settlement.evidence.tx_hashes:
            memo += f" (chain {settlement.evidence.chain_id} tx {settlement.evidence.tx_hashes[0]})"
        if settlement.audit_checkpoint:  # kept whole: the memo is cut before it, never it
            tail = f" audit {settlement.audit_checkpoint}"
            memo = memo[: 999 - len(tail)] + tail
        return memo[:999]

    def ledger_lines(self, settlement: Settlement) -> list[LedgerLine]:
        """What the settlement's records post to NetSuite's general ledger, in the invoice
        currency, by document: the customer payment debits clearing and credits the invoice's
        A/R account by the whole payment (applied or not); the journals as their lines."""
        sid, ar = settlement.settlement_id, self.ar_account(settlement)["id"]
        clearing = self.account(settlement, "crypto_clearing")["id"]
        lines = [
            LedgerLine(sid, clearing, settlement.payment_amount, ZERO),
            LedgerLine(sid, ar, ZERO, settlement.payment_amount),
        ]
        for w in settlement.write_offs:
            account = self.account(settlement, "write_off", w.reason_code)["id"]
            lines += [
                LedgerLine(sid + WRITE_OFF_SUFFIX, account, w.amount, ZERO),
                LedgerLine(sid + WRITE_OFF_SUFFIX, ar, ZERO, w.amount),
            ]
        for x in settlement.journal_lines:
            account = self.account(settlement, x.account_role, x.account_key)["id"]
            lines.append(LedgerLine(sid + JOURNAL_SUFFIX, account, x.debit, x.credit))
        return lines

    def write_off_body(self, settlement: Settlement, currency_id: str) -> dict[str, Any]:
        sid = settlement.settlement_id
        ar = self.ar_account(settlement)
        items: list[dict[str, Any]] = []
        for w in settlement.write_offs:
            items += [
                {
                    "account": self.account(settlement, "write_off", w.reason_code),
                    "debit": w.amount,
                    "memo": f"PayBridge {sid}: {w.reason_code} on invoice {w.invoice_id}"[:999],
                },
                {
                    "account": ar,
                    "credit": w.amount,
                    "entity": {"id": settlement.customer_id},
                    "memo": f"PayBridge {sid}: write-off credit for invoice {w.invoice_id}"[:999],
                },
            ]
        return {
            "externalId": sid + WRITE_OFF_SUFFIX,
            **self.header(settlement, currency_id),
            "approved": True,
            "memo": f"PayBridge settlement {sid}: payment difference written off",
            "line": {"items": items},
        }

    def payment_body(
        self, settlement: Settlement, currency_id: str, write_off_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "externalId": settlement.settlement_id,
            "customer": {"id": settlement.customer_id},
            **self.header(settlement, currency_id),
            "payment": settlement.payment_amount,
            "undepFunds": False,
            "account": self.account(settlement, "crypto_clearing"),
            "autoApply": False,
            "arAcct": self.ar_account(settlement),
            "memo": self.memo(settlement),
            "apply": {
                "items": [
                    {"doc": {"id": a.invoice_id}, "apply": True, "amount": a.amount}
                    for a in settlement.applications
                ]
            },
        }
        if settlement.write_offs:
            if write_off_id is None:
                raise ValueError("a settlement with write-offs needs its write-off journal id")
            body["credit"] = {
                "items": [
                    {"doc": {"id": write_off_id}, "apply": True, "amount": settlement.written_off}
                ]
            }
        return body

    def journal_body(self, settlement: Settlement, currency_id: str) -> dict[str, Any]:
        sid = settlement.settlement_id
        items = []
        for line in settlement.journal_lines:
            item: dict[str, Any] = {
                "account": self.account(settlement, line.account_role, line.account_key),
                "memo": (line.memo or f"PayBridge {sid} {line.account_role}")[:999],
            }
            if line.debit:
                item["debit"] = line.debit
            else:
                item["credit"] = line.credit
            items.append(item)
        return {
            "externalId": sid + JOURNAL_SUFFIX,
            **self.header(settlement, currency_id),
            "approved": True,
            "memo": f"PayBridge settlement {sid}: digital asset at fair value, gain/loss",
            "line": {"items": items},
        }
