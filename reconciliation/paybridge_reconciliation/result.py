"""Turn engine decisions into the published tables: matches, exceptions, status, journals.

`publish_tables` decides what is built when and hands each table over as soon as it is done
(`published` builds the text of matches, exceptions and status; `journals` the journal lines);
`reconcile` runs the rules and publishes everything at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import exact_ints
from paybridge_reconciliation.chain_order import ChainOrderReceipts, own_columns
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.engine import ENGINE_VERSION, Frames, run_rules
from paybridge_reconciliation.fair_values import fair_values
from paybridge_reconciliation.fixed_point import minor_to_text
from paybridge_reconciliation.journals import build_journals, settlement_amounts
from paybridge_reconciliation.labels import as_categories, coded
from paybridge_reconciliation.memory import give_back_memory, memory_kept
from paybridge_reconciliation.published import (
    EXCEPTION_COLUMNS,
    MATCH_COLUMNS,
    STATUS_COLUMNS,
    amounts_text,
    exceptions_table,
    matches_table,
    requests_status_table,
)
from paybridge_reconciliation.reasons import Reason
from paybridge_reconciliation.side_thread import Pending, on_demand, side_thread
from paybridge_reconciliation.times import utc_naive

__all__ = [  # the published column orders, imported from here by callers and tests
    "EXCEPTION_COLUMNS",
    "MATCH_COLUMNS",
    "STATUS_COLUMNS",
    "ReconResult",
    "publish",
    "publish_tables",
    "reconcile",
]


@dataclass
class ReconResult:
    matches: pd.DataFrame
    exceptions: pd.DataFrame
    requests_status: pd.DataFrame
    journals: pd.DataFrame
    as_of: pd.Timestamp
    amounts_by_chain_asset: pd.DataFrame | None = None
    engine_version: str = ENGINE_VERSION


def _amounts_by_chain_asset(
    chain: np.ndarray, asset: pd.Series, currency: pd.Series, exponent: np.ndarray, fv: np.ndarray
) -> pd.DataFrame:
    """Exact fair-value totals of auto-applied matches per (chain, asset, currency), in that
    order (asset and currency as text, or Categoricals with categories in text order)."""
    frame = pd.DataFrame(
        {
            "chain_id": chain,
            "asset": asset,
            "currency": currency,
            "exponent": exponent,
            "minor": exact_ints(np.asarray(fv)) if len(fv) else np.zeros(0, np.int64),
        }
    )
    grouped = (
        frame.groupby(["chain_id", "asset", "currency", "exponent"], sort=True, observed=True)
        .agg(matches=("minor", "size"), minor=("minor", "sum"))
        .reset_index()
    )
    for column in ("asset", "currency"):  # coded keys (categories in text order) as text
        grouped[column] = grouped[column].astype("str")
    grouped["fair_value"] = minor_to_text(
        grouped["minor"].to_numpy(), grouped["exponent"].to_numpy()
    )
    return grouped[["chain_id", "asset", "currency", "matches", "fair_value"]]


def reconcile(
    requests: pd.DataFrame,
    receipts: pd.DataFrame,
    rates: pd.DataFrame | None = None,
    config: ReconConfig | None = None,
    as_of: datetime | None = None,
) -> ReconResult:
    """Run the rules and publish matches, exceptions, per-request status and journals."""
    config = config or ReconConfig()
    frames = run_rules(requests, receipts, rates, config, as_of)
    return publish(frames, rates, config)


def publish(frames: Frames, rates: pd.DataFrame | None, config: ReconConfig) -> ReconResult:
    """All published tables at once (reports and callers that keep the result)."""
    tables: dict[str, pd.DataFrame] = {}
    totals = publish_tables(frames, rates, config, tables.__setitem__)
    return ReconResult(
        amounts_by_chain_asset=totals,
        matches=tables["matches"],
        exceptions=tables["exceptions"],
        requests_status=tables["requests_status"],
        journals=tables["journals"],
        as_of=frames.as_of,
    )


#: the request and receipt columns publishing reads (the others only matching needs)
PUBLISHED_REQUEST_COLUMNS = (
    "request_id",
    "invoice_id",
    "customer_id",
    "chain_id",
    "asset",
    "amount_due",
    "amount_due_text",
    "invoice_currency",
    "currency_exponent",
    "invoice_minor",
    "created_at",
    "tolerance_group",
)
#: request columns of a few distinct values, coded once for publishing (`labels.as_categories`)
FEW_VALUED_REQUEST_COLUMNS = ("asset", "invoice_currency", "tolerance_group")
PUBLISHED_RECEIPT_COLUMNS = (
    "chain_id",
    "asset",
    "block_time",
    "block_number",
    "amount",
    "amount_text",
    "late",
    "tx_hash",
    "event_key",
    "from_address",
    "to_address",
)


def published_only(frames: Frames) -> Frames:
    """The frames with only the request and receipt columns publishing reads.

    Why: reconcile-files lets go of the rest (deposit addresses, tolerances, matching codes,
    statuses: about 0.2 GB at 1M requests) before it builds the tables."""
    rc = frames.receipts
    return replace(
        frames,
        requests=own_columns(frames.requests, PUBLISHED_REQUEST_COLUMNS),
        receipts=rc.only(PUBLISHED_RECEIPT_COLUMNS)
        if isinstance(rc, ChainOrderReceipts)
        else own_columns(rc, PUBLISHED_RECEIPT_COLUMNS),
    )


def publish_tables(
    frames: Frames,
    rates: pd.DataFrame | None,
    config: ReconConfig,
    emit: Callable[[str, pd.DataFrame], None],
    totals: bool = True,
    parallel: bool = True,
) -> pd.DataFrame | None:
    """Build the published tables one at a time and hand each to ``emit`` as soon as it is
    done (requests_status, journals, matches, exceptions), keeping no reference to it; returns
    the fair-value totals per chain and asset (None with ``totals=False``: only the reports
    show them, so reconcile-files without reports skips them). ``parallel``: independent
    parts on a second thread (`side_thread`).

    Why: a caller that writes each table and lets it go (reconcile-files without reports) then
    holds one output table at a time, not all four (about 1 GB less at 1M requests)."""
    frames = replace(frames, requests=as_categories(frames.requests, FEW_VALUED_REQUEST_COLUMNS))
    rq, rc, m, exc = frames.requests, frames.receipts, frames.matches, frames.exceptions
    if isinstance(rc, pd.DataFrame):  # receipts already in chain order, all columns
        rc = ChainOrderReceipts(rc.reset_index(drop=True), rc.iloc[:0], np.arange(len(rc)))
    m_ri = m["ri"].to_numpy(np.int64)
    m_rpos = m["rpos"].to_numpy(np.int64)
    auto = m["auto"].to_numpy(bool)
    block_time = utc_naive(rc["block_time"])
    if "amount_due_text" in rq.columns:  # read from a file: the text as read (inputs.big_int)
        due_text_all = rq["amount_due_text"].reset_index(drop=True)
    else:
        due_text_all = amounts_text(rq["amount_due"].to_numpy())
    applied = m["amount_applied"].to_numpy(dtype=object)
    over = exc[exc["reason"] == Reason.OVERPAYMENT.value]

    # Order of work: the status table needs no fair values, so it is built (and written) while
    # they are looked up; the journals and totals need them, the matches too, the exceptions
    # not. When parallel, the second thread looks up the fair values, builds the exceptions
    # and then the journals and totals, while this one builds the status and the matches
    # (about as much work: 1.0-1.2 s each at 1M requests); the tables are handed over in the
    # same order either way.
    with memory_kept(parallel), side_thread(parallel, "recon-publish") as submit:
        valuing = submit(_fair_values, applied, m_ri, m_rpos, over, rq, rc, rates, config)
        exceptions = submit(exceptions_table, frames, rc, block_time, config)
        emit(
            "requests_status",
            requests_status_table(frames, m_ri[auto], block_time[m_rpos[auto]], due_text_all),
        )
        # the journals' amounts on a third thread only when this one is not busy beside them
        # (at 1M requests, three alternated series of 6-8 pairs: medians of 1.83, 1.87 and
        # 1.86x matching's time with all outputs on two threads against 2.0, 1.95 and 1.92x
        # on three)
        journaling = submit(
            _journals_and_totals, valuing, frames, rc, over, totals, config, not parallel
        )
        matching = on_demand(
            _matches_valued, valuing, frames, rc, applied, block_time, due_text_all, config
        )
        del valuing, applied  # held by the work pending on them only (peak memory)
        if parallel:  # this thread's share while the second one builds the journals
            matching.result()
        journals, by_chain_asset = journaling.result()
        del journaling
        emit("journals", journals)
        del journals
        emit("matches", matching.result())
        del matching  # the fair values with it, before the exceptions are built when serial
        emit("exceptions", exceptions.result())
    return by_chain_asset


def _fair_values(
    applied: np.ndarray,
    m_ri: np.ndarray,
    m_rpos: np.ndarray,
    over: pd.DataFrame,
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    rates: pd.DataFrame | None,
    config: ReconConfig,
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Fair values (minor units) and rate evidence of the matches' applied amounts, and the
    fair values of the overpayments ``over`` (exceptions) left as customer credit."""
    fv, evidence = fair_values(applied, m_ri, m_rpos, rq, rc, rates, config)
    credit_value, _ = fair_values(
        over["amount"].to_numpy(dtype=object),
        over["ri"].to_numpy(np.int64),
        over["rpos"].to_numpy(np.int64),
        rq,
        rc,
        rates,
        config,
    )
    return fv, evidence, credit_value


def _journals_and_totals(
    valuing: Pending[tuple[np.ndarray, pd.DataFrame, np.ndarray]],
    frames: Frames,
    rc: ChainOrderReceipts,
    over: pd.DataFrame,
    totals: bool,
    config: ReconConfig,
    amounts_beside: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The journal lines, and the fair-value totals per chain and asset when ``totals``.
    ``amounts_beside``: as `build_journals`'."""
    rq, m, st = frames.requests, frames.matches, frames.status
    fv, _, credit_value = valuing.result()
    give_back_memory(len(m))  # the rate lookups' leftovers, before the journals
    auto = m["auto"].to_numpy(bool)
    m_ri = m["ri"].to_numpy(np.int64)[auto]
    m_rpos = m["rpos"].to_numpy(np.int64)[auto]
    amounts = settlement_amounts(
        rq,
        st["status"],
        st["amount_applied"].to_numpy(dtype=object),
        m_ri,
        fv[auto],
        over["ri"].to_numpy(np.int64),
        credit_value,
    )
    journals = build_journals(rq, amounts, config, amounts_beside)
    del amounts
    if not totals:
        return journals, None
    by_chain_asset = _amounts_by_chain_asset(
        rc["chain_id"].to_numpy()[m_rpos],
        rc.coded_at("asset", m_rpos),
        coded(rq["invoice_currency"], m_ri),
        rq["currency_exponent"].to_numpy()[m_ri],
        fv[auto],
    )
    return journals, by_chain_asset


def _matches_valued(
    valuing: Pending[tuple[np.ndarray, pd.DataFrame, np.ndarray]],
    frames: Frames,
    rc: ChainOrderReceipts,
    applied: np.ndarray,
    block_time: np.ndarray,
    due_text_all: pd.Series,
    config: ReconConfig,
) -> pd.DataFrame:
    """The matches table once the fair values are in (explanations joined on this thread)."""
    fv, evidence, _ = valuing.result()
    return matches_table(frames, rc, applied, fv, evidence, block_time, due_text_all, config)
