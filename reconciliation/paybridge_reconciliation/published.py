"""The published tables' text: matches, exceptions and per-request status, each built
column-wise from the engine's frames (`result.publish_tables` decides the order and hands
each one over; `journals` builds the journal lines).

Explain step: every match carries its rule, confidence, decision, evidence (tx hash, block,
amounts, rate and its source) and a one-line explanation built column-wise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.columns import take
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.engine import RULE_NAMES, RULE_OWN, Frames
from paybridge_reconciliation.fixed_point import int_text, int_text_series, minor_to_text
from paybridge_reconciliation.iso_text import iso_text
from paybridge_reconciliation.labels import category, coded, mapped
from paybridge_reconciliation.memory import give_back_memory
from paybridge_reconciliation.reasons import SUGGESTED_ACTION, Reason
from paybridge_reconciliation.times import utc_naive

MATCH_COLUMNS = [
    "request_id",
    "invoice_id",
    "customer_id",
    "chain_id",
    "tx_hash",
    "event_key",
    "block_number",
    "block_time",
    "asset",
    "receipt_amount",
    "amount_applied",
    "amount_due",
    "rule",
    "confidence",
    "decision",
    "paid_late",
    "invoice_currency",
    "fair_value",
    "rate",
    "rate_source",
    "rate_valid_from",
    "explorer_url",
    "explanation",
]
EXCEPTION_COLUMNS = [
    "exception_id",
    "reason",
    "chain_id",
    "tx_hash",
    "event_key",
    "block_time",
    "asset",
    "from_address",
    "to_address",
    "amount",
    "request_id",
    "customer_id",
    "remaining_due",
    "detail",
    "suggested_action",
    "explorer_url",
]
STATUS_COLUMNS = [
    "request_id",
    "customer_id",
    "invoice_id",
    "chain_id",
    "asset",
    "status",
    "amount_due",
    "amount_applied",
    "remaining_due",
    "write_off_units",
    "paid_late",
    "paid_over",
    "receipts",
    "first_paid_at",
    "last_paid_at",
    "days_to_pay",
    "age_days",
    "invoice_currency",
    "invoice_amount",
]

DETAIL: dict[str, str] = {
    Reason.DUPLICATE_EVENT: "the same transfer (chain, tx hash, event key, recipient, asset, "
    "amount) seen before; ignored",
    Reason.REPLAY_CONFLICT: "same (chain, tx hash, event key) as an earlier receipt, but a "
    "different recipient, asset or amount; not applied",
    Reason.NOT_FINAL: "receipt status is below the finality policy",
    Reason.UNKNOWN_ADDRESS: "no payment request has this deposit address",
    Reason.WRONG_CHAIN: "sent on a different chain than the request's",
    Reason.WRONG_ASSET: "sent a different asset than the request's",
    Reason.LATE_NO_RATE: "paid after quote expiry and no rate at block time to re-quote",
    Reason.AFTER_WINDOW: "paid after the monitoring window; no open request matches",
    Reason.DUPLICATE_PAYMENT: "same amount again to an already settled request",
    Reason.SETTLED_ADDRESS: "money at a settled request's address; no open request matches",
    Reason.OVERPAYMENT: "excess over the amount due; held as customer credit",
    Reason.AMBIGUOUS: "two or more candidates qualify equally; not auto-applied",
    Reason.NEEDS_REVIEW: "match below the auto-apply confidence",
    Reason.UNDERPAID: "partial payment; invoice stays open",
}


def _iso(values: np.ndarray | pd.Series) -> pd.Series:
    """ISO 8601 UTC text to the second ('' for missing)."""
    return pd.Series(iso_text(utc_naive(pd.Series(values))), dtype="str")


def _explorer(config: ReconConfig, chain_id: np.ndarray, tx_hash: pd.Series) -> pd.Series:
    """The explorer link of each transfer ('' on a chain without a configured explorer):
    one prefix per distinct chain, joined to the hashes by Arrow."""
    codes, chains = pd.factorize(np.asarray(chain_id))
    links = [config.explorers.get(c) or None for c in chains.tolist()]  # "" = no link
    prefixes = pa.array(links, pa.large_string())
    url = pc.binary_join_element_wise(
        prefixes.take(pa.array(codes)),
        pa.array(tx_hash, pa.large_string()),
        pa.scalar("", pa.large_string()),
    )
    return pd.Series(pc.fill_null(url, ""), dtype="str")


def amounts_text(values: np.ndarray) -> pd.Series:
    """Exact decimal text of integer amounts; Arrow formats the int64-sized ones."""
    return int_text_series(np.asarray(values))


def _text_like(values: np.ndarray, like: np.ndarray, like_text: pd.Series) -> pd.Series:
    """Text of ``values`` where most equal ``like`` (whose text is known): the known text, and
    only the other rows formatted (amounts applied in full are the receipt's amount)."""
    differs = np.asarray(values != like, dtype=bool)
    if not differs.any():
        return like_text
    text = pc.replace_with_mask(
        pa.array(like_text, pa.large_string()),
        pa.array(differs),
        int_text(np.asarray(values)[differs]).cast(pa.large_string()),
    )
    return pd.Series(text, dtype="str")


def _receipts_amount_text(
    rc: ChainOrderReceipts, amounts: np.ndarray, rpos: np.ndarray
) -> pd.Series:
    """Text of amounts that are mostly the whole amount of their receipt (at chain positions
    ``rpos``): that receipt's text as read, and only the other amounts formatted."""
    if len(rc) == 0 or not rc.has("amount_text"):
        return amounts_text(amounts)
    receipt_amount = as_object(rc["amount"].to_numpy())[rpos]
    return _text_like(amounts, receipt_amount, rc.text_at("amount_text", rpos))


def _first_last_count(
    group: np.ndarray, times: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group 0..size-1: earliest and latest time (NaT where none is known) and the number
    of rows, as a pandas groupby min/max/size gives them, without building the groupby."""
    stamps = np.asarray(times, dtype="datetime64[us]").view(np.int64)
    known = stamps != np.datetime64("NaT", "us").view(np.int64)
    first = np.full(size, np.iinfo(np.int64).max)
    last = np.full(size, np.iinfo(np.int64).min)
    np.minimum.at(first, group[known], stamps[known])
    np.maximum.at(last, group[known], stamps[known])
    nat = np.datetime64("NaT", "us")
    seen = last != np.iinfo(np.int64).min
    return (
        np.where(seen, first.view("datetime64[us]"), nat),
        np.where(seen, last.view("datetime64[us]"), nat),
        np.bincount(group, minlength=size).astype(np.int64),
    )


def _confidence_text(confidence: np.ndarray) -> pd.Series:
    """'%.2f' of each confidence; formatted once per distinct value (there are a handful,
    found by hashing: a sort of every row took 3-10x as long)."""
    codes, values = pd.factorize(confidence, sort=True)
    return category(codes, [f"{v:.2f}" for v in values.tolist()])


def _labels(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """Text column from small integer codes (one Arrow take)."""
    text = pc.take(pa.array(labels, pa.large_string()), pa.array(np.asarray(codes, dtype=np.int64)))
    return pd.Series(text, dtype="str")


def requests_status_table(
    frames: Frames, paid_ri: np.ndarray, paid_at: np.ndarray, due_text: pd.Series
) -> pd.DataFrame:
    """The published per-request status (STATUS_COLUMNS); ``paid_ri`` and ``paid_at`` are the
    request and block time of each auto-applied match, ``due_text`` each amount due's text."""
    rq, st = frames.requests, frames.status
    remaining = st["remaining_due"].to_numpy(dtype=object)
    exps = rq["currency_exponent"].to_numpy()
    # per request: counts and payment times from auto matches
    first, last, count = _first_last_count(paid_ri, paid_at, len(rq))
    created = utc_naive(rq["created_at"])
    day = np.timedelta64(1, "D")
    paid = count > 0
    days = np.zeros(len(rq), dtype=np.int64)
    days[paid] = (last[paid] - created[paid]) // day
    days_to_pay = pd.array(np.where(paid, days, 0), dtype="Int64")
    days_to_pay[~paid] = pd.NA
    as_of = frames.as_of.tz_convert("UTC").tz_localize(None).to_datetime64()
    age = (np.datetime64(as_of, "us") - created) // day
    requests_status = pd.DataFrame(
        {
            "request_id": rq["request_id"].reset_index(drop=True),
            "customer_id": rq["customer_id"].reset_index(drop=True),
            "invoice_id": rq["invoice_id"].reset_index(drop=True),
            "chain_id": rq["chain_id"].to_numpy(),
            "asset": rq["asset"].reset_index(drop=True),
            "status": st["status"].reset_index(drop=True),
            "amount_due": due_text,
            "amount_applied": _text_like(  # most requests are paid exactly: applied = due
                st["amount_applied"].to_numpy(dtype=object),
                rq["amount_due"].to_numpy(),
                due_text,
            ),
            "remaining_due": amounts_text(remaining),
            "write_off_units": amounts_text(st["write_off_units"].to_numpy(dtype=object)),
            "paid_late": st["paid_late"].to_numpy(bool),
            "paid_over": st["paid_over"].to_numpy(bool),
            "receipts": count,
            "first_paid_at": _iso(first),
            "last_paid_at": _iso(last),
            "days_to_pay": days_to_pay,
            "age_days": age.astype(np.int64),
            "invoice_currency": rq["invoice_currency"].reset_index(drop=True),
            "invoice_amount": minor_to_text(rq["invoice_minor"].to_numpy(), exps),
        }
    )
    return requests_status[STATUS_COLUMNS]


def exceptions_table(
    frames: Frames, rc: ChainOrderReceipts, block_time: np.ndarray, config: ReconConfig
) -> pd.DataFrame:
    """The published exceptions (EXCEPTION_COLUMNS): each with its receipt's identity and
    text, its request's, what is left due (underpaid requests), detail, next step and link."""
    rq, exc, st = frames.requests, frames.exceptions, frames.status
    chain = rc["chain_id"].to_numpy()
    e_rpos = exc["rpos"].to_numpy(np.int64)
    e_ri = exc["ri"].to_numpy(np.int64)
    has_r = pd.Series(e_rpos >= 0)
    has_q = pd.Series(e_ri >= 0)
    rp = np.where(has_r, e_rpos, 0)
    qi = np.where(has_q, e_ri, 0)
    reason = exc["reason"].astype("str").reset_index(drop=True)

    def pick(values: pd.Series, mask: pd.Series, idx: np.ndarray, size: int) -> pd.Series:
        if size == 0:
            return pd.Series([""] * len(exc), dtype="str")
        return take(values, idx).astype("str").where(mask, "")

    def pick_receipt(name: str) -> pd.Series:
        if len(rc) == 0:
            return pd.Series([""] * len(exc), dtype="str")
        return rc.text_at(name, rp).astype("str").where(has_r, "")

    chain_text = pick_receipt("chain_id")
    tx_text = pick_receipt("tx_hash")
    event_text = pick_receipt("event_key")
    request_text = pick(rq["request_id"], has_q, qi, len(rq))
    under = (reason == Reason.UNDERPAID.value).to_numpy()
    remaining_text = pa.repeat(pa.scalar("", pa.large_string()), len(exc))
    if under.any():  # what is left due is shown for underpaid requests only
        remaining = st["remaining_due"].to_numpy(dtype=object)[qi[under]]
        remaining_text = pc.replace_with_mask(
            remaining_text, pa.array(under), int_text(remaining).cast(pa.large_string())
        )
    receipt_key = _joined([chain_text, ":", tx_text, ":", event_text, ":", amounts_text(e_rpos)])
    exceptions = pd.DataFrame(
        {
            "exception_id": _joined([reason, ":", receipt_key.where(has_r, request_text)]),
            "reason": reason,
            "chain_id": chain_text,
            "tx_hash": tx_text,
            "event_key": event_text,
            "block_time": _iso(block_time[rp] if len(rc) else np.zeros(0, "datetime64[us]")).where(
                has_r, ""
            )
            if len(rc)
            else pd.Series([""] * len(exc), dtype="str"),
            "asset": pick_receipt("asset"),
            "from_address": pick_receipt("from_address"),
            "to_address": pick_receipt("to_address"),
            "amount": _receipts_amount_text(rc, exc["amount"].to_numpy(dtype=object), rp),
            "request_id": request_text,
            "customer_id": pick(rq["customer_id"], has_q, qi, len(rq)),
            "remaining_due": pd.Series(remaining_text, dtype="str"),
            "detail": mapped(reason, {k.value: v for k, v in DETAIL.items()}),
            "suggested_action": mapped(reason, {k.value: v for k, v in SUGGESTED_ACTION.items()}),
        }
    )
    exceptions["explorer_url"] = _explorer(
        config, np.where(has_r, chain[rp] if len(rc) else 0, 0), tx_text
    ).where(has_r, "")
    return exceptions[EXCEPTION_COLUMNS]


def matches_table(
    frames: Frames,
    rc: ChainOrderReceipts,
    applied: np.ndarray,
    fv: np.ndarray,
    evidence: pd.DataFrame,
    block_time: np.ndarray,
    due_text_all: pd.Series,
    config: ReconConfig,
) -> pd.DataFrame:
    """The published matches (MATCH_COLUMNS): each with its receipt, request, amounts as
    text, decision, fair value with its rate evidence, link and explanation (joined last, once
    the other columns are built)."""
    rq, m = frames.requests, frames.matches
    m_ri = m["ri"].to_numpy(np.int64)
    m_rpos = m["rpos"].to_numpy(np.int64)
    auto = m["auto"].to_numpy(bool)
    exps = rq["currency_exponent"].to_numpy()
    chain = rc["chain_id"].to_numpy()
    late = rc["late"].to_numpy()
    rule_code = m["rule"].to_numpy(np.int64)
    own = rule_code == RULE_OWN

    receipt_amount = as_object(rc["amount"].to_numpy())[m_rpos]
    if rc.has("amount_text"):
        receipt_text = rc.text_at("amount_text", m_rpos)
    else:
        receipt_text = amounts_text(receipt_amount)
    due_text = take(due_text_all, m_ri)
    applied_text = _text_like(applied, receipt_amount, receipt_text)
    paid_late = late[m_rpos] & own
    request_id = take(rq["request_id"], m_ri)
    tx_hash = rc.text_at("tx_hash", m_rpos)
    rule = _labels(rule_code, RULE_NAMES)
    parts = [
        rule,
        ": receipt of ",
        receipt_text,
        " base units, ",
        applied_text,
        " applied to ",
        request_id,
        " (due ",
        due_text,
        ")",
        _labels(paid_late.astype(np.int64), ["", "; late, re-quoted at block time"]),
        _labels(
            m["tie"].to_numpy(bool).astype(np.int64),
            ["", "; tie with another candidate, needs a person"],
        ),
    ]
    give_back_memory(len(m))  # the amounts' texts are built; before the long texts
    matches = pd.DataFrame(
        {
            "request_id": request_id,
            "invoice_id": take(rq["invoice_id"], m_ri),
            "customer_id": take(rq["customer_id"], m_ri),
            "chain_id": chain[m_rpos],
            "tx_hash": tx_hash,
            "event_key": rc.text_at("event_key", m_rpos),
            "block_number": rc["block_number"].to_numpy()[m_rpos],
            "block_time": _iso(block_time[m_rpos]),
            "asset": rc.coded_at("asset", m_rpos),
            "receipt_amount": receipt_text,
            "amount_applied": applied_text,
            "amount_due": due_text,
            "rule": category(rule_code, RULE_NAMES),
            "confidence": _confidence_text(m["confidence"].to_numpy(float)),
            "decision": category(auto.astype(np.int64), ["proposed", "auto"]),
            "paid_late": paid_late,
            "invoice_currency": coded(rq["invoice_currency"], m_ri),
            "fair_value": minor_to_text(fv, exps[m_ri]),
            "rate": evidence["rate"],
            "rate_source": evidence["rate_source"],
            "rate_valid_from": _iso(evidence["rate_valid_from"]),
            "explorer_url": _explorer(config, chain[m_rpos], tx_hash),
            "explanation": _joined(parts),
        }
    )
    return matches[MATCH_COLUMNS]


def _joined(parts: list[str | pd.Series]) -> pd.Series:
    """Row-wise concatenation of text columns and constants (one Arrow pass)."""
    return pd.Series(
        pc.binary_join_element_wise(
            *[
                pa.scalar(p, pa.large_string())
                if isinstance(p, str)
                else pa.array(p).cast(pa.large_string())
                for p in parts
            ],
            pa.scalar("", pa.large_string()),
        ),
        dtype="str",
    )
