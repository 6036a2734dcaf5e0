"""Normalise engine and reference outputs into comparable sets."""

from __future__ import annotations

from collections import Counter

from paybridge_reconciliation.result import ReconResult


def engine_view(result: ReconResult) -> dict:
    m = result.matches
    matches = Counter(
        (
            r.request_id,
            int(r.chain_id),
            r.tx_hash,
            r.event_key,
            int(r.amount_applied),
            r.rule,
            r.decision,
        )
        for r in m.itertuples(index=False)
    )
    exceptions = Counter()
    for r in result.exceptions.itertuples(index=False):
        key = (int(r.chain_id), r.tx_hash, r.event_key) if r.tx_hash else None
        exceptions[(r.reason, key, int(r.amount), r.request_id or None)] += 1
    status = {
        r.request_id: (r.status, int(r.amount_applied))
        for r in result.requests_status.itertuples(index=False)
    }
    return {"matches": matches, "exceptions": exceptions, "status": status}


def reference_view(ref: dict) -> dict:
    matches = Counter(
        (mt["request_id"], *mt["key"], int(mt["amount"]), mt["rule"], mt["decision"])
        for mt in ref["matches"]
    )
    exceptions = Counter(
        (reason, key, int(amount), request_id)
        for reason, key, amount, request_id in ref["exceptions"]
    )
    return {"matches": matches, "exceptions": exceptions, "status": ref["status"]}
