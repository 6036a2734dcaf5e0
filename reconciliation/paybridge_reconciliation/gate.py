"""Gate and block: which receipts may be matched at all, and the request each one belongs to.

Before any rule runs, a receipt is set aside (as an exception) when it replays a transfer
already seen, is not final yet, was paid to an address no request owns, or arrived on another
chain or in another asset than its address's request asked for. What is left is free for the
rules, each with its owning request and whether it came after that request's quote expired or
after its monitoring window closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.exception_rows import ExceptionRows
from paybridge_reconciliation.reasons import Reason
from paybridge_reconciliation.times import utc_naive


@dataclass
class RoutedReceipts:
    """Per receipt, in chain order."""

    free: np.ndarray  # passed the gate and the block: the rules may match it
    ri: np.ndarray  # position of the request owning its address, -1 for none
    late: np.ndarray  # after its owner's quote expired
    after: np.ndarray  # after its owner's monitoring window
    block_time: np.ndarray  # UTC, naive datetime64


def route_receipts(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    input_tx_code: np.ndarray,
    input_owner: np.ndarray,
    config: ReconConfig,
    exceptions: ExceptionRows,
) -> RoutedReceipts:
    """Gate (replays, finality) then block (owner, chain, asset); what fails is added to
    ``exceptions``. ``input_tx_code`` and ``input_owner`` are by input row, as
    `prepare.prepare_inputs` returns them; ``rc`` carries ``asset_code``."""
    order = rc.order
    n = len(rc)
    amount = rc["amount"].to_numpy()
    zeros = np.zeros(n, dtype=np.int64)
    minus = np.full(n, -1, dtype=np.int64)

    # --- gate: replays, finality --------------------------------------------------------
    free = np.ones(n, dtype=bool)
    dup, first = _replayed(
        rc["chain_id"].to_numpy(), input_tx_code[order], rc["event_code"].to_numpy()
    )
    same = _same_transfer(rc, np.flatnonzero(dup), first[dup])
    identical = np.zeros(n, dtype=bool)
    identical[np.flatnonzero(dup)[same]] = True
    exceptions.add(identical, Reason.DUPLICATE_EVENT, zeros, minus)
    exceptions.add(dup & ~identical, Reason.REPLAY_CONFLICT, amount, minus)
    free &= ~dup
    final = rc.in_input_order("status").isin(config.final_statuses).to_numpy()[order]
    not_final = free & ~final
    exceptions.add(not_final, Reason.NOT_FINAL, amount, minus)
    free &= ~not_final

    # --- block: receipt -> request owning the address -----------------------------------
    ri = input_owner[order]
    unknown = free & (ri < 0)
    exceptions.add(unknown, Reason.UNKNOWN_ADDRESS, amount, minus)
    free &= ~unknown
    ric = np.where(ri < 0, 0, ri)
    wrong_chain = free & (rc["chain_id"].to_numpy() != _owner(rq["chain_id"].to_numpy(), ric))
    exceptions.add(wrong_chain, Reason.WRONG_CHAIN, amount, ri)
    free &= ~wrong_chain
    wrong_asset = free & (rc["asset_code"].to_numpy() != _owner(rq["asset_code"].to_numpy(), ric))
    exceptions.add(wrong_asset, Reason.WRONG_ASSET, amount, ri)
    free &= ~wrong_asset

    block_time = utc_naive(rc["block_time"])
    late = block_time > _owner(utc_naive(rq["expires_at"]), ric)
    after = block_time > _owner(utc_naive(rq["monitor_until"]), ric)
    return RoutedReceipts(free, ri, late, after, block_time)


def _owner(values: np.ndarray, ric: np.ndarray) -> np.ndarray:
    """values[ric], or placeholders when there are no requests (all receipts unknown)."""
    if len(values):
        return values[ric]
    return np.zeros(len(ric), dtype=values.dtype)


def _replayed(
    chain: np.ndarray, tx_code: np.ndarray, event_code: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each receipt (chain order): is its identity (chain, tx, event key) already seen
    earlier, and the position of its first occurrence. One int64 key (chain code, tx code and
    event code packed) when the widths allow, else the three code columns."""
    n = len(chain)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    chain_code = pd.factorize(chain)[0]
    widths = [int(x.max()).bit_length() for x in (chain_code, tx_code, event_code)]
    if sum(widths) <= 63:
        key = (chain_code << (widths[1] + widths[2])) | (tx_code << widths[2]) | event_code
        codes = pd.factorize(key)[0]
    else:
        frame = pd.DataFrame({"chain": chain_code, "tx": tx_code, "event": event_code})
        codes = frame.groupby(["chain", "tx", "event"], sort=False).ngroup().to_numpy()
    first_of_code = np.empty(int(codes.max()) + 1, dtype=np.int64)
    first_of_code[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write is the first row
    first = first_of_code[codes]
    return first != np.arange(n), first


def _same_transfer(rc: ChainOrderReceipts, rows: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """A replay is the same transfer only with the same recipient, asset and amount as the
    first receipt of its identity; anything else is a conflict for a person."""
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    same = rc["asset_code"].to_numpy()[rows] == rc["asset_code"].to_numpy()[firsts]
    to_rows = rc.text_at("to_address", rows).to_numpy(dtype=object)
    to_firsts = rc.text_at("to_address", firsts).to_numpy(dtype=object)
    amount = as_object(rc["amount"].to_numpy())
    return np.asarray(same & (to_rows == to_firsts) & (amount[rows] == amount[firsts]), bool)
