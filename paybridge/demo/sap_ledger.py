"""The demo's closing check for the SAP company code (see ``ledger.py`` for NetSuite's).

The subledger's journal of each posted settlement, mapped to the company code's G/L accounts
by role (customer items to the receivables reconciliation account), against SAP's G/L lines of
the documents carrying the settlement's reference; plus ``tieout erp`` and the trial balance.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paybridge_connectors.erp.connections import open_connector
from paybridge_connectors.erp.sap.config import CompanyCodeAccounts
from paybridge_connectors.erp.sap.journal import document_reference
from rich.console import Console

from paybridge.demo.ledger import ZERO, differences, posted_settlements, print_books
from paybridge.demo.world import SAP_COMPANY_CODE, DemoWorld
from paybridge.domain.settlements import JournalLine, Settlement
from paybridge.recon_runs.tieouts_store import tie_out_erp


def _account(accounts: CompanyCodeAccounts, line: JournalLine) -> str:
    key = line.account_key
    return {
        "crypto_clearing": lambda: accounts.clearing,
        "ar": lambda: str(accounts.receivables),
        "digital_asset": lambda: accounts.digital_asset[key],
        "settlement_gain_loss": lambda: accounts.gain if key == "gain" else accounts.loss,
        "write_off": lambda: accounts.write_off.get(key) or accounts.write_off["default"],
    }[line.account_role]()


def subledger_by_account(
    accounts: CompanyCodeAccounts, settlements: list[Settlement]
) -> dict[str, Decimal]:
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for settlement in settlements:
        for line in settlement.full_journal():
            balance[_account(accounts, line).rjust(10, "0")] += line.debit - line.credit
    return dict(balance)


def erp_by_account(world: DemoWorld, settlements: list[Settlement]) -> dict[str, Decimal]:
    references = {document_reference(s.settlement_id) for s in settlements}
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for line in world.sap.ledger.gl_lines(SAP_COMPANY_CODE):
        if line["reference"] in references:
            amount = abs(Decimal(str(line["amount"])))
            balance[str(line["gl_account"])] += amount if line["debit_credit"] == "S" else -amount
    return dict(balance)


def sap_ledger_summary(world: DemoWorld, console: Console) -> dict[str, Any]:
    settings = world.sap_settings
    posted = posted_settlements(world, settings.name)
    with open_connector(settings) as sap:
        tie_out = tie_out_erp(world.engine, sap, settings.name)
        still_open = {
            i.invoice_id: str(i.amount)
            for page in sap.fetch_open_invoices(None)
            for i in page.invoices
        }
    accounts = settings.accounts[SAP_COMPANY_CODE]
    ours = subledger_by_account(accounts, posted)
    erp_lines = erp_by_account(world, posted)
    year = datetime.now(UTC).year
    trial_balance = {
        str(account): str(amount)
        for account, amount in world.sap.ledger.trial_balance(SAP_COMPANY_CODE, year).items()
    }
    tie_out_differences = int((tie_out["status"] != "ok").sum()) if len(tie_out) else 0
    ledger_differences = differences(erp_lines, ours)
    print_books(console, settings.name, trial_balance, erp_lines, ours, {})
    console.print(
        f"`paybridge tieout erp` ({settings.name}): {tie_out_differences} differences; "
        f"SAP G/L lines vs subledger journals: {len(ledger_differences)} accounts differ"
    )
    return {
        settings.name: {
            "erp_system": "sap",
            "company_code": SAP_COMPANY_CODE,
            "erp_tieout_differences": tie_out_differences,
            "ledger_differences": ledger_differences,
            "trial_balance": trial_balance,
            "settlements_posted": len(posted),
            "open_invoices": still_open,
            "unapplied_customer_credit": str(sum((x.unapplied for x in posted), ZERO)),
            "accounts": {
                "accounts_receivable": [str(accounts.receivables)],
                "crypto_clearing": [accounts.clearing.rjust(10, "0")],
            },
        }
    }
