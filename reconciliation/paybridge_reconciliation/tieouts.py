"""Tie-outs for auditors, with every difference listed (never netted away).

- subledger vs chain: per (chain, address, asset), recorded inflows minus outflows up to a
  block equal the on-chain balance at that block.
- subledger vs ERP: each settled request has exactly one posted ERP document with the same
  amount and the invoice is cleared; ERP documents nobody settled are listed too.
Inputs are plain DataFrames so the store layer and the file re-performance can both feed them.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object

TIE_OUT_COLUMNS = ["tie_out", "key", "expected", "actual", "difference", "status", "detail"]
CHAIN_KEY = ["chain_id", "address", "asset"]


def _sum_by(frame: pd.DataFrame, keys: list[str], value: str) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series(dtype=object)
    grouped = frame.assign(_v=as_object(frame[value].to_numpy())).groupby(keys)["_v"]
    return grouped.sum()


def subledger_vs_chain(
    inflows: pd.DataFrame,
    balances: pd.DataFrame,
    outflows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """inflows/outflows: chain_id, address, asset, block_number, amount (receipts recorded by the
    watcher); balances: chain_id, address, asset, block_number, balance (read from the chain).
    Only flows at or below each balance's block count."""
    rows = []
    flows_in = (
        inflows.rename(columns={"to_address": "address"}) if "to_address" in inflows else inflows
    )
    for bal in balances.itertuples(index=False):
        key = (int(bal.chain_id), str(bal.address).lower(), str(bal.asset).lower())

        def total(frame: pd.DataFrame | None, key=key, block=int(bal.block_number)) -> int:
            if frame is None or frame.empty:
                return 0
            sel = (
                (frame["chain_id"].to_numpy() == key[0])
                & (frame["address"].str.lower().to_numpy() == key[1])
                & (frame["asset"].str.lower().to_numpy() == key[2])
                & (frame["block_number"].to_numpy() <= block)
            )
            return int(sum(as_object(frame["amount"].to_numpy()[sel])))

        expected = total(flows_in) - total(outflows)
        actual = int(bal.balance)
        rows.append(
            {
                "tie_out": "subledger_vs_chain",
                "key": f"{key[0]}:{key[1]}:{key[2]}@{int(bal.block_number)}",
                "expected": str(expected),
                "actual": str(actual),
                "difference": str(actual - expected),
                "status": "ok" if actual == expected else "DIFFERENCE",
                "detail": "",
            }
        )
    return pd.DataFrame(rows, columns=TIE_OUT_COLUMNS)


def subledger_vs_erp(journals: pd.DataFrame, erp_documents: pd.DataFrame) -> pd.DataFrame:
    """journals: our journals.csv; erp_documents: request_id (our settlement reference),
    document_id, amount (invoice currency text), cleared (bool)."""
    ar = journals[journals["account"].str.contains("receivable", case=False)]
    ours = {str(r): str(a) for r, a in zip(ar["request_id"], ar["credit"], strict=True)}
    docs = erp_documents.astype({"request_id": str, "document_id": str, "amount": str})
    by_request: dict[str, list[dict]] = {}
    for doc in docs.to_dict("records"):
        by_request.setdefault(doc["request_id"], []).append(doc)
    rows = []

    def add(key: str, expected: str, actual: str, status: str, detail: str = "") -> None:
        difference = ""
        if expected and actual:
            difference = str(Decimal(actual) - Decimal(expected))
        rows.append(
            {
                "tie_out": "subledger_vs_erp",
                "key": key,
                "expected": expected,
                "actual": actual,
                "difference": difference,
                "status": status,
                "detail": detail,
            }
        )

    for request_id in sorted(ours):
        expected = ours[request_id]
        found = by_request.get(request_id, [])
        if not found:
            add(request_id, expected, "", "MISSING_IN_ERP")
        elif len(found) > 1:
            total = sum(Decimal(d["amount"]) for d in found)
            documents = ";".join(d["document_id"] for d in found)
            add(request_id, expected, str(total), "DUPLICATE_IN_ERP", documents)
        else:
            doc = found[0]
            if Decimal(doc["amount"]) != Decimal(expected):
                add(request_id, expected, doc["amount"], "AMOUNT_MISMATCH", doc["document_id"])
            elif not bool(doc.get("cleared", False)):
                add(request_id, expected, doc["amount"], "NOT_CLEARED", doc["document_id"])
            else:
                add(request_id, expected, doc["amount"], "ok", doc["document_id"])
    for request_id in sorted(set(by_request) - set(ours)):
        for doc in by_request[request_id]:
            add(request_id, "", doc["amount"], "UNKNOWN_IN_ERP", doc["document_id"])
    return pd.DataFrame(rows, columns=TIE_OUT_COLUMNS)


def differences(tie_outs: pd.DataFrame) -> pd.DataFrame:
    return tie_outs[tie_outs["status"].to_numpy() != np.array("ok", dtype=object)]
