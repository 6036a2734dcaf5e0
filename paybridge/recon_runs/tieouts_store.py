"""Tie-outs for auditors, fed from the store, the chain and the ERP (differences listed).

* chain: per watched address and asset, the watcher's recorded inflows minus outflows up to a
  block equal the balance read from the chain at that block (``eth_getBalance`` /
  ``balanceOf`` with that block number); and every incoming receipt the latest reconciliation
  saw is applied or in the exceptions queue (else listed ``UNACCOUNTED``, ``unaccounted.py``);
* ERP: each posted settlement has exactly one ERP document with the same amount, and the
  invoices it settled are no longer open in the ERP.
The comparisons are ``paybridge_reconciliation.tieouts``'; the latest rows per kind are kept in
the store for the reconciliation workbook.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from eth_utils import to_checksum_address
from paybridge_connectors.chain.rpc import RpcClient
from paybridge_connectors.erp.protocol import ErpConnector
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS, subledger_vs_chain, subledger_vs_erp
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.config import ChainConfig
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.export import asset_key
from paybridge.recon_runs.unaccounted import unaccounted_receipts
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainCursor, ChainReceipt
from paybridge.store.models.outbox import SettlementOutboxRow
from paybridge.store.models.reconciliation import TieOutResult

BALANCE_OF = "0x70a08231"
FLOW_COLUMNS = ["chain_id", "address", "asset", "block_number", "amount"]


class TieOutError(ValueError):
    """A tie-out that cannot be computed as asked (message says what is missing)."""


def scanned_block(session: Session, chain_id: int) -> int:
    cursor = session.get(ChainCursor, chain_id)
    if cursor is None or cursor.next_block == 0:
        raise TieOutError(f"chain {chain_id}: the watcher has not scanned any block yet")
    return cursor.next_block - 1


def _flows(session: Session, chain_id: int, direction: str, block: int) -> pd.DataFrame:
    rows = session.execute(
        sa.select(
            ChainReceipt.watched_address,
            ChainReceipt.kind,
            ChainReceipt.asset_address,
            ChainReceipt.block_number,
            ChainReceipt.amount,
        ).where(
            ChainReceipt.chain_id == chain_id,
            ChainReceipt.direction == direction,
            ChainReceipt.block_number <= block,
        )
    ).all()
    return pd.DataFrame(
        [
            {
                "chain_id": chain_id,
                "address": r.watched_address.lower(),
                "asset": asset_key(r.asset_address if r.kind == "erc20" else None),
                "block_number": r.block_number,
                "amount": r.amount,
            }
            for r in rows
        ],
        columns=FLOW_COLUMNS,
    ).astype({"chain_id": "int64", "block_number": "int64", "amount": object})


def _watched_pairs(session: Session, chain_id: int, flows: pd.DataFrame) -> list[tuple[str, str]]:
    requests = session.execute(
        sa.select(PaymentRequest.deposit_address, PaymentRequest.asset_address).where(
            PaymentRequest.chain_id == chain_id
        )
    ).all()
    pairs = {(address.lower(), asset_key(token)) for address, token in requests}
    pairs |= {(address.lower(), "native") for address, _ in requests}  # anyone can send gas coin
    pairs |= set(zip(flows["address"], flows["asset"], strict=True))
    return sorted(pairs)


def read_balance(rpc: RpcClient, address: str, asset: str, block: int) -> int:
    """The on-chain balance at ``block`` (archive state for old blocks)."""
    tag = hex(block)
    if asset == "native":
        return int(rpc.call("eth_getBalance", [to_checksum_address(address), tag]), 16)
    data = BALANCE_OF + address.lower().removeprefix("0x").rjust(64, "0")
    answer = rpc.call("eth_call", [{"to": to_checksum_address(asset), "data": data}, tag])
    return int(answer, 16) if answer not in ("0x", None) else 0


def tie_out_chain(
    engine: Engine, chain: ChainConfig, *, block: int | None = None, rpc: RpcClient | None = None
) -> pd.DataFrame:
    """Subledger vs chain for every watched (address, asset) of ``chain`` at ``block``
    (default: the last block the watcher scanned)."""
    client = rpc or RpcClient(chain.rpc_url)
    with transaction(engine) as session:
        at = block if block is not None else scanned_block(session, chain.chain_id)
        inflows = _flows(session, chain.chain_id, "in", at)
        outflows = _flows(session, chain.chain_id, "out", at)
        pairs = _watched_pairs(session, chain.chain_id, inflows)
        unaccounted = unaccounted_receipts(session, chain.chain_id, at)
    balances = pd.DataFrame(
        [
            {
                "chain_id": chain.chain_id,
                "address": address,
                "asset": asset,
                "block_number": at,
                "balance": read_balance(client, address, asset, at),
            }
            for address, asset in pairs
        ],
        columns=["chain_id", "address", "asset", "block_number", "balance"],
    )
    result = subledger_vs_chain(inflows, balances, outflows)
    result["detail"] = f"{chain.name} at block {at}"
    if len(unaccounted):
        result = pd.concat([result, unaccounted], ignore_index=True)
    save_tie_out(engine, "subledger_vs_chain", result, scope=f"{chain.chain_id}:")
    return result


def tie_out_erp(
    engine: Engine, connector: ErpConnector, connection: str | None = None
) -> pd.DataFrame:
    """Subledger (posted settlements in the outbox) vs the ERP's cleared items and open
    invoices; settlements not posted yet are listed as ``NOT_POSTED``."""
    with transaction(engine) as session:
        query = sa.select(SettlementOutboxRow).order_by(SettlementOutboxRow.settlement_id)
        if connection is not None:
            query = query.where(SettlementOutboxRow.connection == connection)
        rows = session.scalars(query).all()
    posted = [r for r in rows if r.status == "posted"]
    open_invoices = {
        invoice.invoice_id
        for page in connector.fetch_open_invoices(None)
        for invoice in page.invoices
        if invoice.amount > 0
    }
    ours = {r.settlement_id for r in posted}
    documents = []
    for item in connector.cleared_items():
        invoices: set[str] = set()
        for row in posted:
            if row.settlement_id == item.settlement_id:
                settlement = Settlement.from_json(json.loads(row.payload))
                invoices = {a.invoice_id for a in settlement.applications}
        documents.append(
            {
                "request_id": item.settlement_id,
                "document_id": item.payment_id,
                "amount": str(item.amount),
                "cleared": item.settlement_id in ours and not (invoices & open_invoices),
            }
        )
    journals = pd.DataFrame(
        [
            {
                "request_id": r.settlement_id,
                "account": "accounts receivable",
                "credit": str(r.payment_amount),
            }
            for r in posted
        ],
        columns=["request_id", "account", "credit"],
    )
    erp_docs = pd.DataFrame(documents, columns=["request_id", "document_id", "amount", "cleared"])
    result = subledger_vs_erp(journals, erp_docs)
    pending = pd.DataFrame(
        [
            {
                "tie_out": "subledger_vs_erp",
                "key": r.settlement_id,
                "expected": str(r.payment_amount),
                "actual": "",
                "difference": "",
                "status": "NOT_POSTED",
                "detail": f"outbox status {r.status}",
            }
            for r in rows
            if r.status != "posted"
        ],
        columns=TIE_OUT_COLUMNS,
    )
    result = pd.concat([result, pending], ignore_index=True).fillna("")
    save_tie_out(engine, "subledger_vs_erp", result, scope="")
    return result


def save_tie_out(engine: Engine, kind: str, rows: pd.DataFrame, scope: str) -> None:
    """Keep the latest rows of this kind (and scope, e.g. one chain) for the workbook."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.execute(
            sa.delete(TieOutResult).where(
                TieOutResult.tie_out == kind, TieOutResult.key.startswith(scope)
            )
        )
        session.add_all(
            TieOutResult(
                tie_out=kind,
                checked_at=now,
                **{c: str(getattr(row, c) or "") for c in TIE_OUT_COLUMNS if c != "tie_out"},
            )
            for row in rows.itertuples(index=False)
        )


def latest_tie_outs(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        rows = session.scalars(sa.select(TieOutResult).order_by(TieOutResult.id)).all()
        return pd.DataFrame(
            [{c: getattr(r, c) for c in TIE_OUT_COLUMNS} for r in rows], columns=TIE_OUT_COLUMNS
        )


def has_differences(rows: pd.DataFrame) -> bool:
    return bool((rows["status"] != "ok").any()) if not rows.empty else False


__all__ = ["TieOutError", "latest_tie_outs", "tie_out_chain", "tie_out_erp"]
