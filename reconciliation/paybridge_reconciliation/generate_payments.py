"""How the generated requests are paid: the receipts of each kind of payment, their chain
identities, and the ground truth of which request each one really pays.

The generator (`generate`) makes the requests and calls these in a fixed order: every draw
from the seeded generator happens in that order, so a seed always gives the same scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object, div_ceil

RATE_SCALE = 18
GROUP = 5  # requests per customer
OTHER_TOKEN = "0xdac17f958d2ee523a2206206994597c13d831ec7"
START = pd.Timestamp("2026-01-05T00:00:00Z")


def hex_ids(prefix: int, values: np.ndarray, width: int) -> np.ndarray:
    """Hex ids of ``width`` digits: 8 digits of ``prefix``, then each value."""
    head = f"0x{prefix:08x}"
    return np.array([head + format(int(v), f"0{width - 8}x") for v in values], dtype=object)


@dataclass
class Invoices:
    """The generated requests, one array element per request position, with what their
    payments are built from."""

    requests: pd.DataFrame
    customer: np.ndarray
    slot: np.ndarray  # position among the customer's GROUP requests
    kind: np.ndarray  # how the request is paid (SINGLE_KINDS, or its customer's pattern)
    chain: np.ndarray
    asset: np.ndarray
    decimals: np.ndarray
    currency: np.ndarray
    exponent: np.ndarray
    invoice_minor: np.ndarray
    created: pd.DatetimeIndex
    due: np.ndarray
    tol_units: np.ndarray
    address: np.ndarray
    request_id: np.ndarray
    rate_index: pd.DataFrame  # rates by (chain, asset, currency), hourly


class Receipts:
    """Receipts as they are built, kind by kind: the request whose address (and, by default,
    chain and asset) receives the money, the amount, when, its status, and which request the
    money really pays (-1: none) with how much; plus truth rows of batch payments' other
    invoices."""

    def __init__(self, rng: np.random.Generator, invoices: Invoices) -> None:
        self.rng = rng
        self.inv = invoices
        self.frames: list[pd.DataFrame] = []
        self.truth: list[pd.DataFrame] = []

    def emit(
        self,
        rows: np.ndarray,
        amounts: np.ndarray,
        offsets: pd.TimedeltaIndex,
        *,
        to: np.ndarray | None = None,
        ch: np.ndarray | None = None,
        asset_: np.ndarray | None = None,
        status: np.ndarray | None = None,
        pays: np.ndarray | None = None,
        pay_amounts: np.ndarray | None = None,
    ) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return
        inv = self.inv
        if status is None:
            status = np.where(self.rng.random(len(rows)) < 0.5, "finalized", "confirmed")
        self.frames.append(
            pd.DataFrame(
                {
                    "req": rows,
                    "to_address": inv.address[rows] if to is None else to,
                    "amount": as_object(np.asarray(amounts, dtype=object)),
                    "block_time": inv.created[rows] + offsets,
                    "chain_id": inv.chain[rows] if ch is None else ch,
                    "asset": inv.asset[rows] if asset_ is None else asset_,
                    "status": status,
                    "pays": rows if pays is None else pays,
                    "pay_amount": as_object(
                        np.asarray(amounts if pay_amounts is None else pay_amounts, dtype=object)
                    ),
                }
            )
        )


def pay_singles(out: Receipts, seed: int, on_time: pd.TimedeltaIndex) -> None:
    """The payments of requests paid on their own, kind by kind (SINGLE_KINDS)."""
    inv, rng = out.inv, out.rng
    kind, due_o = inv.kind, as_object(inv.due)
    emit = out.emit
    sel = lambda k: np.flatnonzero(kind == k)  # noqa: E731
    rows = np.flatnonzero(np.isin(kind, ["exact", "duplicate_event"]))
    emit(rows, due_o[rows], on_time[rows])
    rows = sel("tolerance")
    short = np.array(
        [
            int(rng.integers(1, max(2, int(t)))) if t > 1 else 0
            for t in as_object(inv.tol_units)[rows]
        ],
        dtype=object,
    )
    emit(rows, due_o[rows] - short, on_time[rows])
    rows = sel("partial")
    frac = rng.integers(30, 80, len(rows))
    emit(rows, due_o[rows] * as_object(frac) // 100, on_time[rows])
    rows = sel("split")
    first = due_o[rows] * as_object(rng.integers(20, 70, len(rows))) // 100
    emit(rows, first, on_time[rows] - pd.Timedelta(seconds=20))
    emit(rows, due_o[rows] - first, on_time[rows])
    rows = sel("over")
    extra = due_o[rows] * as_object(rng.integers(5, 40, len(rows))) // 100 + 7
    emit(rows, due_o[rows] + extra, on_time[rows], pay_amounts=due_o[rows])
    rows = sel("late")
    late_offset = pd.to_timedelta(rng.integers(30 * 60, 20 * 3600, len(rows)), unit="s")
    emit(rows, _requoted(inv, rows, late_offset), late_offset)
    rows = sel("wrong_token")
    emit(
        rows,
        due_o[rows],
        on_time[rows],
        asset_=np.full(len(rows), OTHER_TOKEN, dtype=object),
        pays=np.full(len(rows), -1),
    )
    rows = sel("wrong_chain")
    other = np.where(inv.chain[rows] == 1, 137, 1)
    emit(rows, due_o[rows], on_time[rows], ch=other, pays=np.full(len(rows), -1))
    rows = sel("unknown_address")
    emit(
        rows,
        due_o[rows],
        on_time[rows],
        to=hex_ids(seed + 1, rows, 40),
        pays=np.full(len(rows), -1),
    )
    rows = sel("duplicate_payment")
    emit(rows, due_o[rows], on_time[rows])
    emit(rows, due_o[rows], on_time[rows] + pd.Timedelta(hours=2), pays=np.full(len(rows), -1))
    rows = sel("not_final")
    emit(
        rows,
        due_o[rows],
        on_time[rows],
        status=np.full(len(rows), "detected", dtype=object),
        pays=np.full(len(rows), -1),
    )


def _requoted(inv: Invoices, rows: np.ndarray, late_offset: pd.TimedeltaIndex) -> np.ndarray:
    """What a late payer sends: the invoice re-quoted at the rate of the hour it pays in."""
    late_hour = ((inv.created[rows] + late_offset) - START) // pd.Timedelta(hours=1)
    late_rate = np.empty(len(rows), dtype=object)
    for j, r in enumerate(rows.tolist()):
        table = inv.rate_index.loc[(inv.chain[r], inv.asset[r], inv.currency[r]), "rate_scaled"]
        late_rate[j] = table.to_numpy(dtype=object)[late_hour[j]]
    return div_ceil(
        as_object(inv.invoice_minor[rows]) * (10 ** (RATE_SCALE + as_object(inv.decimals[rows]))),
        late_rate * (10 ** as_object(inv.exponent[rows])),
    )


def pay_patterns(out: Receipts, on_time: pd.TimedeltaIndex) -> np.ndarray:
    """The payments of the multi-request patterns (batch, batch_short, reuse, tie); returns
    the batches' first requests (whose address receives each batch)."""
    inv = out.inv
    kind, slot, due_o = inv.kind, inv.slot, as_object(inv.due)
    created = inv.created
    # batch: slot 0's address receives the sum of slots 0..2
    # batch_short: the same, less a small fee inside the last invoice's tolerance; a person
    # would clear it with a write-off, the engine only proposes nothing (exact subset sums)
    tol_o = as_object(inv.tol_units)
    heads = np.flatnonzero(np.isin(kind, ["batch", "batch_short"]) & (slot == 0))
    short = np.where(
        kind[heads] == "batch_short",
        np.array([max(1, int(t) // 2) for t in tol_o[heads + 2]], dtype=object),
        0,
    )
    total = due_o[heads] + due_o[heads + 1] + due_o[heads + 2] - short
    out.emit(heads, total, on_time[heads], pays=heads, pay_amounts=due_o[heads])
    for extra_slot in (1, 2):
        paid = due_o[heads + extra_slot] - (short if extra_slot == 2 else 0)
        out.truth.append(pd.DataFrame({"rec_of": heads, "req": heads + extra_slot, "amount": paid}))
    # reuse: slot 1 paid to slot 0's (settled) address, inside slot 1's quote window
    # tie: slot 1 paid to slot 0's address, and slot 2 has the same amount -> ambiguous
    for rows in (np.flatnonzero(kind == "reuse"), np.flatnonzero((kind == "tie") & (slot == 1))):
        out.emit(
            rows - 1,
            due_o[rows],
            (created[rows] - created[rows - 1]) + on_time[rows],
            pays=rows,
            pay_amounts=due_o[rows],
        )
    return heads


def on_chain(
    rng: np.random.Generator, seed: int, rc: pd.DataFrame, kind: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The receipts with chain identities (tx hash, event key, block, sender), and the same
    with a replay of each duplicate_event payment added (as the watcher may report it twice)."""
    rc["block_time"] = rc["block_time"].astype("datetime64[us, UTC]")
    m = len(rc)
    rc["tx_hash"] = hex_ids(seed, rng.permutation(m) + 1, 64)
    # token transfers are logs; native ones the top-level value or an internal call
    position = rng.integers(0, 300, m).astype(str)
    trace_key = "trace:" + (position.astype(int) % 4).astype(str)
    native_key = np.where(rng.random(m) < 0.5, "tx", trace_key)
    rc["event_key"] = np.where(
        rc["asset"].to_numpy(dtype=object) == "native", native_key, "log:" + position
    ).astype(object)
    seconds = (rc["block_time"] - START).dt.total_seconds().astype(np.int64)
    rc["block_number"] = 20_000_000 + seconds // 12
    rc["from_address"] = hex_ids(seed + 2, rc["req"].to_numpy() // GROUP, 40)
    dup_rows = np.flatnonzero(kind == "duplicate_event")
    replay = rc[rc["req"].isin(dup_rows) & (rc["pays"] >= 0)]
    return rc, pd.concat([rc, replay.assign(pays=-1)], ignore_index=True)


def truth_of(
    receipts: pd.DataFrame,
    rc: pd.DataFrame,
    heads: np.ndarray,
    batch_parts: list[pd.DataFrame],
    request_id: np.ndarray,
) -> pd.DataFrame:
    """Which request each receipt really pays, and how much (chain, tx hash, event key,
    request id, amount): its own row, and the batches' other invoices."""
    key = receipts[["chain_id", "tx_hash", "event_key"]]
    real = receipts["pays"].to_numpy() >= 0
    t = [
        pd.DataFrame(
            {
                **{c: key[c].to_numpy()[real] for c in key},
                "request_id": request_id[receipts["pays"].to_numpy()[real]],
                "amount": receipts["pay_amount"].to_numpy(dtype=object)[real],
            }
        )
    ]
    rc_by_req = rc[rc["req"].isin(heads) & (rc["pays"] == rc["req"])].set_index("req")
    for part in batch_parts:
        src = rc_by_req.loc[part["rec_of"].to_numpy()]
        t.append(
            pd.DataFrame(
                {
                    "chain_id": src["chain_id"].to_numpy(),
                    "tx_hash": src["tx_hash"].to_numpy(),
                    "event_key": src["event_key"].to_numpy(),
                    "request_id": request_id[part["req"].to_numpy()],
                    "amount": part["amount"].to_numpy(dtype=object),
                }
            )
        )
    return pd.concat(t, ignore_index=True)
