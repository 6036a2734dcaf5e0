"""The chain side of the period-close pack: flows per receipt and the subledger roll-forward
per (chain, deposit address class, asset), tied to the on-chain balance at the period's last
block.

- The period's last block is the highest block whose timestamp is before the period end,
  found on the chain by bisection (``eth_getBlockByNumber``); balances are read at it
  (``eth_getBalance`` / ``balanceOf``, archive state).
- Where the chain is not reachable, the pack says so (status ``CHAIN_UNREACHABLE``, balance
  empty) instead of leaving the tie-out out; where the watcher has not scanned that far, the
  row says ``WATCHER_BEHIND`` (the subledger is incomplete there).
- Address classes: ``deposit`` (a payment request's deposit address), ``other watched``.
Every flow keeps its receipt id (``chain_receipts.id``), tx hash and event key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.chain.rpc import RpcClient, RpcError, RpcUnavailable
from paybridge.config import PayBridgeConfig
from paybridge.recon_runs.export import asset_key, iso
from paybridge.recon_runs.tieouts_store import read_balance
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainCursor, ChainReceipt

FLOW_COLUMNS = [
    "receipt_id",
    "chain_id",
    "tx_hash",
    "event_key",
    "block_number",
    "block_time",
    "direction",
    "address",
    "address_class",
    "asset",
    "amount_base_units",
    "in_period",
]
ROLL_COLUMNS = [
    "chain_id",
    "chain",
    "address_class",
    "asset",
    "token",
    "opening_base_units",
    "received_base_units",
    "sent_out_base_units",
    "closing_base_units",
    "onchain_balance_base_units",
    "difference_base_units",
    "last_block",
    "status",
    "receipts_in_period",
]
BALANCE_COLUMNS = [
    "chain_id",
    "address",
    "address_class",
    "asset",
    "block",
    "closing_base_units",
    "onchain_balance_base_units",
    "difference_base_units",
    "status",
]


@dataclass(frozen=True)
class ChainState:
    """What the chain said about the period end (or why it said nothing)."""

    chain_id: int
    last_block: int | None
    scanned_block: int | None
    note: str


RpcFactory = Callable[[str], RpcClient]


def _default_rpc(url: str) -> RpcClient:
    return RpcClient(url, timeout=5.0, attempts=2, retry_budget=5.0)


def last_block_before(rpc: RpcClient, end: datetime) -> int:
    """Highest block with timestamp < ``end`` (bisection over block numbers)."""
    limit = int(end.timestamp())

    def stamp(number: int) -> int:
        block = rpc.call("eth_getBlockByNumber", [hex(number), False])
        return int(block["timestamp"], 16)

    high = int(rpc.call("eth_blockNumber", []), 16)
    if stamp(high) < limit:
        return high
    low = 0
    if stamp(low) >= limit:
        return -1
    while high - low > 1:
        middle = (low + high) // 2
        if stamp(middle) < limit:
            low = middle
        else:
            high = middle
    return low


def period_flows(
    session: Session, start: datetime, end: datetime
) -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """Every recorded flow up to ``end`` (opening = before ``start``), with its class."""
    deposits: dict[int, set[str]] = {}
    for chain_id, address in session.execute(
        sa.select(PaymentRequest.chain_id, PaymentRequest.deposit_address)
    ).all():
        deposits.setdefault(int(chain_id), set()).add(address.lower())
    rows = session.scalars(
        sa.select(ChainReceipt)
        .where(ChainReceipt.block_timestamp < end)
        .order_by(ChainReceipt.chain_id, ChainReceipt.block_number, ChainReceipt.id)
    ).all()
    records = []
    for r in rows:
        address = r.watched_address.lower()
        records.append(
            {
                "receipt_id": str(r.id),
                "chain_id": str(r.chain_id),
                "tx_hash": r.tx_hash.lower(),
                "event_key": r.event_key,
                "block_number": str(r.block_number),
                "block_time": iso(r.block_timestamp),
                "direction": r.direction,
                "address": address,
                "address_class": "deposit"
                if address in deposits.get(r.chain_id, set())
                else "other watched",
                "asset": asset_key(r.asset_address if r.kind == "erc20" else None),
                "amount_base_units": str(r.amount),
                "in_period": "yes" if r.block_timestamp >= start else "no",
            }
        )
    return pd.DataFrame(records, columns=FLOW_COLUMNS, dtype="str"), deposits


def chain_states(
    session: Session, cfg: PayBridgeConfig, chain_ids: list[int], end: datetime, rpc: RpcFactory
) -> tuple[dict[int, ChainState], dict[int, RpcClient]]:
    states: dict[int, ChainState] = {}
    clients: dict[int, RpcClient] = {}
    for chain_id in chain_ids:
        cursor = session.get(ChainCursor, chain_id)
        scanned = cursor.next_block - 1 if cursor is not None and cursor.next_block else None
        try:
            chain = cfg.chain(chain_id)
        except (KeyError, ValueError):
            states[chain_id] = ChainState(chain_id, None, scanned, "chain not in the configuration")
            continue
        client = rpc(chain.rpc_url)
        try:
            last = last_block_before(client, end)
        except (RpcUnavailable, RpcError, OSError, KeyError, TypeError, ValueError) as exc:
            note = f"{chain.name}: chain not reachable at {chain.rpc_url} ({type(exc).__name__})"
            states[chain_id] = ChainState(chain_id, None, scanned, note)
            continue
        clients[chain_id] = client
        note = f"{chain.name}: last block before the period end {last}"
        if scanned is not None and scanned < last:
            note += f"; the watcher scanned only to block {scanned}"
        states[chain_id] = ChainState(chain_id, last, scanned, note)
    return states, clients


def _sum(frame: pd.DataFrame) -> int:
    return sum(int(v) for v in frame["amount_base_units"])


def roll_forward(
    flows: pd.DataFrame,
    deposits: dict[int, set[str]],
    states: dict[int, ChainState],
    clients: dict[int, RpcClient],
    asset_label: Callable[[int, str], str],
    chain_label: Callable[[int], str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (chain, class, asset): opening + received - sent out = closing, vs the chain."""
    pairs: set[tuple[int, str, str, str]] = set()
    for r in flows.itertuples(index=False):
        pairs.add((int(r.chain_id), r.address_class, r.address, r.asset))
    for chain_id, addresses in deposits.items():
        for address in addresses:
            pairs.add((chain_id, "deposit", address, "native"))
    balances = []
    for chain_id, klass, address, asset in sorted(pairs):
        mine = flows[
            (flows["chain_id"] == str(chain_id))
            & (flows["address"] == address)
            & (flows["asset"] == asset)
        ]
        closing = _sum(mine[mine["direction"] == "in"]) - _sum(mine[mine["direction"] == "out"])
        state = states.get(chain_id)
        onchain, status = "", "CHAIN_UNREACHABLE"
        if state is not None and state.last_block is not None and chain_id in clients:
            value = read_balance(clients[chain_id], address, asset, max(state.last_block, 0))
            onchain = str(value)
            status = "ok" if value == closing else "DIFFERENCE"
            if state.scanned_block is not None and state.scanned_block < state.last_block:
                status = "WATCHER_BEHIND" if value != closing else status
        balances.append(
            {
                "chain_id": str(chain_id),
                "address": address,
                "address_class": klass,
                "asset": asset,
                "block": "" if state is None or state.last_block is None else str(state.last_block),
                "closing_base_units": str(closing),
                "onchain_balance_base_units": onchain,
                "difference_base_units": str(int(onchain) - closing) if onchain else "",
                "status": status,
            }
        )
    per_address = pd.DataFrame(balances, columns=BALANCE_COLUMNS, dtype="str")
    lines = []
    groups = sorted({(int(b["chain_id"]), b["address_class"], b["asset"]) for b in balances})
    for chain_id, klass, asset in groups:
        sel = flows[
            (flows["chain_id"] == str(chain_id))
            & (flows["address_class"] == klass)
            & (flows["asset"] == asset)
        ]
        before = sel[sel["in_period"] == "no"]
        during = sel[sel["in_period"] == "yes"]
        opening = _sum(before[before["direction"] == "in"]) - _sum(
            before[before["direction"] == "out"]
        )
        received = _sum(during[during["direction"] == "in"])
        sent = _sum(during[during["direction"] == "out"])
        closing = opening + received - sent
        mine = per_address[
            (per_address["chain_id"] == str(chain_id))
            & (per_address["address_class"] == klass)
            & (per_address["asset"] == asset)
        ]
        statuses = set(mine["status"])
        reachable = "CHAIN_UNREACHABLE" not in statuses
        onchain = sum(int(v) for v in mine["onchain_balance_base_units"]) if reachable else None
        status = "ok" if statuses == {"ok"} else sorted(statuses - {"ok"})[0]
        state = states.get(chain_id)
        lines.append(
            {
                "chain_id": str(chain_id),
                "chain": chain_label(chain_id),
                "address_class": klass,
                "asset": asset,
                "token": asset_label(chain_id, asset),
                "opening_base_units": str(opening),
                "received_base_units": str(received),
                "sent_out_base_units": str(sent),
                "closing_base_units": str(closing),
                "onchain_balance_base_units": "" if onchain is None else str(onchain),
                "difference_base_units": "" if onchain is None else str(onchain - closing),
                "last_block": ""
                if state is None or state.last_block is None
                else str(state.last_block),
                "status": status,
                "receipts_in_period": ";".join(during["receipt_id"]),
            }
        )
    return pd.DataFrame(lines, columns=ROLL_COLUMNS, dtype="str"), per_address
