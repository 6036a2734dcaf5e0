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

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from eth_utils import to_checksum_address
from paybridge_connectors.chain.rpc import RpcClient, RpcError, RpcUnavailable
from sqlalchemy.orm import Session

from paybridge.config import PayBridgeConfig
from paybridge.recon_runs.export import asset_key, iso
from paybridge.recon_runs.tieouts_store import BALANCE_OF
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


BATCH = 100  # balance reads per JSON-RPC batch


def balance_call(address: str, asset: str, block: int) -> tuple[str, list]:
    """The JSON-RPC call ``tieouts_store.read_balance`` makes, for batching."""
    tag = hex(block)
    if asset == "native":
        return "eth_getBalance", [to_checksum_address(address), tag]
    data = BALANCE_OF + address.lower().removeprefix("0x").rjust(64, "0")
    return "eth_call", [{"to": to_checksum_address(asset), "data": data}, tag]


def read_balances(rpc: RpcClient, keys: list[tuple[str, str]], block: int) -> list[int]:
    answers: list = []
    for first in range(0, len(keys), BATCH):
        calls = [balance_call(a, asset, block) for a, asset in keys[first : first + BATCH]]
        answers += rpc.batch(calls)
    return [int(v, 16) if v not in ("0x", None) else 0 for v in answers]


def roll_forward(
    flows: pd.DataFrame,
    deposits: dict[int, set[str]],
    states: dict[int, ChainState],
    clients: dict[int, RpcClient],
    asset_label: Callable[[int, str], str],
    chain_label: Callable[[int], str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (chain, class, asset): opening + received - sent out = closing, vs the chain."""
    closing: dict[tuple[int, str, str, str], int] = defaultdict(int)
    group: dict[tuple[int, str, str], dict[str, int]] = defaultdict(
        lambda: {"opening": 0, "received": 0, "sent": 0}
    )
    receipts: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for r in flows.itertuples(index=False):
        chain_id, amount = int(r.chain_id), int(r.amount_base_units)
        signed = amount if r.direction == "in" else -amount
        closing[(chain_id, r.address_class, r.address, r.asset)] += signed
        totals = group[(chain_id, r.address_class, r.asset)]
        if r.in_period == "no":
            totals["opening"] += signed
        else:
            totals["received" if r.direction == "in" else "sent"] += amount
            receipts[(chain_id, r.address_class, r.asset)].append(r.receipt_id)
    for chain_id, addresses in deposits.items():
        for address in addresses:
            closing.setdefault((chain_id, "deposit", address, "native"), 0)
            group.setdefault(
                (chain_id, "deposit", "native"), {"opening": 0, "received": 0, "sent": 0}
            )
    keys = sorted(closing)
    onchain: dict[tuple[int, str, str, str], int] = {}
    for chain_id in sorted({k[0] for k in keys}):
        state = states.get(chain_id)
        if state is None or state.last_block is None or chain_id not in clients:
            continue
        mine = [k for k in keys if k[0] == chain_id]
        values = read_balances(
            clients[chain_id], [(k[2], k[3]) for k in mine], max(state.last_block, 0)
        )
        onchain.update(zip(mine, values, strict=True))
    balances = []
    for key in keys:
        chain_id, klass, address, asset = key
        state = states.get(chain_id)
        value = onchain.get(key)
        status = "CHAIN_UNREACHABLE" if value is None else "ok"
        if value is not None and value != closing[key]:
            behind = state and state.scanned_block is not None and state.last_block is not None
            status = (
                "WATCHER_BEHIND"
                if behind and state.scanned_block < state.last_block
                else "DIFFERENCE"
            )
        balances.append(
            {
                "chain_id": str(chain_id),
                "address": address,
                "address_class": klass,
                "asset": asset,
                "block": "" if state is None or state.last_block is None else str(state.last_block),
                "closing_base_units": str(closing[key]),
                "onchain_balance_base_units": "" if value is None else str(value),
                "difference_base_units": "" if value is None else str(value - closing[key]),
                "status": status,
            }
        )
    statuses: dict[tuple[int, str, str], set[str]] = defaultdict(set)
    onchain_sum: dict[tuple[int, str, str], int] = defaultdict(int)
    for key in keys:
        line = (key[0], key[1], key[3])
        onchain_sum[line] += onchain.get(key, 0)
    for b in balances:
        statuses[(int(b["chain_id"]), b["address_class"], b["asset"])].add(b["status"])
    lines = []
    for line_key in sorted(group):
        chain_id, klass, asset = line_key
        totals = group[line_key]
        close = totals["opening"] + totals["received"] - totals["sent"]
        seen = statuses[line_key]
        reachable = "CHAIN_UNREACHABLE" not in seen
        status = "ok" if seen <= {"ok"} else sorted(seen - {"ok"})[0]
        state = states.get(chain_id)
        chain_total = onchain_sum[line_key] if reachable else None
        lines.append(
            {
                "chain_id": str(chain_id),
                "chain": chain_label(chain_id),
                "address_class": klass,
                "asset": asset,
                "token": asset_label(chain_id, asset),
                "opening_base_units": str(totals["opening"]),
                "received_base_units": str(totals["received"]),
                "sent_out_base_units": str(totals["sent"]),
                "closing_base_units": str(close),
                "onchain_balance_base_units": "" if chain_total is None else str(chain_total),
                "difference_base_units": "" if chain_total is None else str(chain_total - close),
                "last_block": ""
                if state is None or state.last_block is None
                else str(state.last_block),
                "status": status,
                "receipts_in_period": ";".join(receipts[line_key]),
            }
        )
    per_address = pd.DataFrame(balances, columns=BALANCE_COLUMNS, dtype="str")
    return pd.DataFrame(lines, columns=ROLL_COLUMNS, dtype="str"), per_address
