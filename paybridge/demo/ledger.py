"""The demo's closing check: does what the ERP holds equal what the subledger says?

Per ERP connection: ``paybridge tieout erp`` (differences counted), the ERP's trial balance
(every account of the subsidiary, in its base currency, which is the demo invoices' currency),
and PayBridge's own documents in the ERP's general ledger compared with the settlements'
journals account by account. Written to ``summary.json`` so a run can be checked without
reading the log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from rich.console import Console
from rich.table import Table

from paybridge.demo.world import DemoWorld
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.tieouts_store import tie_out_erp
from paybridge.store.db import transaction
from paybridge.store.models.outbox import SettlementOutboxRow

ZERO = Decimal(0)


def subledger_by_account(
    connector: NetSuiteConnector, settlements: list[Settlement]
) -> dict[str, Decimal]:
    """Debit minus credit per ERP account of every posted settlement's documents."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for settlement in settlements:
        for line in connector.ledger_lines(settlement):
            balance[line.account] += line.debit - line.credit
    return dict(balance)


def erp_by_account(world: DemoWorld, subsidiary: str) -> dict[str, Decimal]:
    """The same for the ERP's general-ledger lines of PayBridge's records (external id pb-...)."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for line in world.netsuite.account.gl_lines(subsidiary_id=int(subsidiary)):
        if str(line.external_id or "").startswith("pb-"):
            balance[str(line.account)] += line.debit - line.credit
    return dict(balance)


def differences(left: dict[str, Decimal], right: dict[str, Decimal]) -> dict[str, str]:
    return {
        account: str(left.get(account, ZERO) - right.get(account, ZERO))
        for account in sorted(set(left) | set(right))
        if left.get(account, ZERO) != right.get(account, ZERO)
    }


def posted_settlements(world: DemoWorld, connection: str) -> list[Settlement]:
    with transaction(world.engine) as session:
        rows = session.scalars(
            sa.select(SettlementOutboxRow).where(
                SettlementOutboxRow.connection == connection,
                SettlementOutboxRow.status == "posted",
            )
        ).all()
        return [Settlement.from_json(json.loads(r.payload)) for r in rows]


def print_books(
    console: Console,
    connection: str,
    trial_balance: dict[str, str],
    erp_lines: dict[str, Decimal],
    ours: dict[str, Decimal],
    names: dict[str, str],
) -> None:
    table = Table(
        "account",
        "ERP trial balance",
        "PayBridge documents in the ERP",
        "subledger",
        title=f"connection {connection}",
    )
    for account in sorted(set(trial_balance) | set(ours)):
        table.add_row(
            f"{account} {names.get(account, '')}",
            trial_balance.get(account, "0"),
            str(erp_lines.get(account, ZERO)),
            str(ours.get(account, ZERO)),
        )
    console.print(table)


def ledger_summary(world: DemoWorld, console: Console) -> dict[str, Any]:
    settings = world.netsuite_settings
    posted = posted_settlements(world, settings.name)
    with NetSuiteConnector(settings) as netsuite:
        tie_out = tie_out_erp(world.engine, netsuite, settings.name)
        subsidiaries = sorted({s.company for s in posted}) or ["1"]
        ours = subledger_by_account(netsuite, posted)
        still_open = {
            i.invoice_id: str(i.amount)
            for page in netsuite.fetch_open_invoices(None)
            for i in page.invoices
        }
    tie_out_differences = int((tie_out["status"] != "ok").sum()) if len(tie_out) else 0
    erp_lines: dict[str, Decimal] = {}
    trial_balance: dict[str, str] = {}
    for subsidiary in subsidiaries:
        erp_lines |= erp_by_account(world, subsidiary)
        trial_balance |= {
            str(account): str(amount)
            for account, amount in world.netsuite.account.trial_balance(int(subsidiary)).items()
        }
    names = {str(a["id"]): a.get("acctname", "") for a in world.netsuite.account.accounts.values()}
    print_books(console, settings.name, trial_balance, erp_lines, ours, names)
    ledger_differences = differences(erp_lines, ours)
    console.print(
        f"`paybridge tieout erp` ({settings.name}): {tie_out_differences} differences; "
        f"ERP general ledger vs subledger journals: {len(ledger_differences)} accounts differ"
    )
    return {
        settings.name: {
            "erp_system": "netsuite",
            "erp_tieout_differences": tie_out_differences,
            "ledger_differences": ledger_differences,
            "trial_balance": trial_balance,
            "settlements_posted": len(posted),
            "open_invoices": still_open,
            "unapplied_customer_credit": str(sum((x.unapplied for x in posted), ZERO)),
            "accounts": {
                "accounts_receivable": sorted({x.ar_account for x in posted if x.ar_account}),
                "crypto_clearing": sorted(
                    {settings.accounts[x.company].crypto_clearing for x in posted}
                ),
            },
        }
    }


def write_summary(out: Path, connections: dict[str, Any]) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps({"connections": connections}, indent=2, sort_keys=True) + "\n")
    return path
