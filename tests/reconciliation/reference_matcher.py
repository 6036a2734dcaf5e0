"""A deliberately simple reference matcher: plain loops over dicts, no pandas tricks.

It follows the same written rules as the engine (see reconciliation/README.md) one receipt at a
time, so property tests can show the vectorised engine decides exactly the same. Slow on
purpose; it is also the baseline the benchmark compares speed against.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_FLOOR
from itertools import combinations

import pandas as pd
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.identity import with_event_key
from paybridge_reconciliation.tolerance import classify_amount, percent_to_ppm, tolerance_units


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    columns = list(frame.columns)
    for values in zip(*(frame[c].tolist() for c in columns), strict=True):
        out.append(dict(zip(columns, values, strict=True)))
    return out


def _event_position(event_key: str) -> int:
    """The log index of a ``log:<n>`` key, else 0 (as the engine sorts)."""
    return int(event_key[4:]) if event_key.startswith("log:") else 0


def _rate_at(rates: dict, chain: int, asset: str, currency: str, at) -> dict | None:
    best = None
    for rate in rates.get((chain, asset, currency), []):
        if rate["valid_from"] <= at and (best is None or rate["valid_from"] > best["valid_from"]):
            best = rate
    return best


def reference_reconcile(
    requests: pd.DataFrame,
    receipts: pd.DataFrame,
    rates: pd.DataFrame | None = None,
    config: ReconConfig | None = None,
) -> dict:
    config = config or ReconConfig()
    conf = config.confidence
    auto_at, propose_at = config.bands.auto, config.bands.propose
    reqs = sorted(_records(requests), key=lambda r: r["request_id"])
    for r in reqs:
        group = config.tolerance_groups[config.customer_groups.get(r["customer_id"], "default")]
        abs_minor = int(
            group.absolute.scaleb(r["currency_exponent"]).to_integral_value(rounding=ROUND_FLOOR)
        )
        r["due"] = int(r["amount_due"])
        r["tol"] = tolerance_units(
            r["due"], int(r["invoice_minor"]), abs_minor, percent_to_ppm(group.percent)
        )
    by_address = {r["deposit_address"]: r for r in reqs}
    rate_rows: dict[tuple, list[dict]] = defaultdict(list)
    for rate in _records(rates) if rates is not None else []:
        rate_rows[(rate["chain_id"], rate["asset"], rate["currency"])].append(rate)
    recs = _records(with_event_key(receipts))
    recs.sort(
        key=lambda x: (
            x["block_time"],
            x["chain_id"],
            x["block_number"],
            _event_position(x["event_key"]),
            x["tx_hash"],
            x["event_key"],
        )
    )

    matches: list[dict] = []  # request_id, key, amount, eq, rule, confidence, tie
    exceptions: list[tuple] = []  # (reason, key or None, amount, request_id)
    pool: list[tuple[dict, str]] = []  # (receipt, origin)
    excess_targets: list[tuple[dict, int]] = []
    own_review: set = set()
    seen: dict = {}  # identity -> the first receipt with it
    paid_before: dict[str, int] = defaultdict(int)  # running sum per request (all own rows)

    def key(x: dict) -> tuple:
        return (x["chain_id"], x["tx_hash"], x["event_key"])

    for x in recs:
        k = key(x)
        amount = int(x["amount"])
        if k in seen:
            first = seen[k]
            same = (first["to_address"], first["asset"], int(first["amount"])) == (
                x["to_address"],
                x["asset"],
                amount,
            )
            if same:
                exceptions.append(("DUPLICATE_EVENT", k, 0, None))
            else:
                exceptions.append(("REPLAY_CONFLICT", k, amount, None))
            continue
        seen[k] = x
        if x["status"] not in config.final_statuses:
            exceptions.append(("NOT_FINAL", k, amount, None))
            continue
        owner = by_address.get(x["to_address"])
        if owner is None:
            exceptions.append(("UNKNOWN_ADDRESS", k, amount, None))
            continue
        if x["chain_id"] != owner["chain_id"]:
            exceptions.append(("WRONG_CHAIN", k, amount, owner["request_id"]))
            continue
        if x["asset"] != owner["asset"]:
            exceptions.append(("WRONG_ASSET", k, amount, owner["request_id"]))
            continue
        if "own_address" not in config.rules:
            pool.append((x, "after_window"))
            continue
        if x["block_time"] > owner["monitor_until"]:
            pool.append((x, "after_window"))
            continue
        remaining = owner["due"] - paid_before[owner["request_id"]]
        if remaining <= 0:
            pool.append((x, "settled_address"))
            continue
        late = x["block_time"] > owner["expires_at"]
        eq = amount
        if late:
            rate = _rate_at(
                rate_rows, x["chain_id"], x["asset"], owner["invoice_currency"], x["block_time"]
            )
            if rate is None:
                exceptions.append(("LATE_NO_RATE", k, amount, owner["request_id"]))
                continue
            fair_value_num = amount * int(rate["rate_scaled"]) * 10 ** owner["currency_exponent"]
            eq = (fair_value_num * owner["due"]) // (
                10 ** (config.rate_scale + int(rate["decimals"])) * int(owner["invoice_minor"])
            )
        applied_eq = min(eq, remaining)
        paid_before[owner["request_id"]] += eq
        if eq <= applied_eq:
            applied = amount
        elif eq == amount:
            applied = applied_eq
        else:
            applied = -((-amount * applied_eq) // eq)
        confidence = conf.own_address_late if late else conf.own_address
        matches.append(
            dict(
                request_id=owner["request_id"],
                key=k,
                amount=applied,
                eq=applied_eq,
                rule="own_address",
                confidence=confidence,
                tie=False,
            )
        )
        if confidence < auto_at:
            own_review.add(k)
            exceptions.append(("NEEDS_REVIEW", k, applied, owner["request_id"]))
        if amount - applied > 0:
            excess_targets.append((x, amount - applied))

    paid = defaultdict(int)
    for mt in matches:
        if mt["confidence"] >= auto_at:
            paid[mt["request_id"]] += mt["eq"]

    def open_requests(paid_now: dict) -> dict[str, list[dict]]:
        """Open requests per customer (only to keep the loops below short)."""
        by_customer: dict[str, list[dict]] = defaultdict(list)
        for r in reqs:
            if r["due"] - paid_now[r["request_id"]] > r["tol"]:
                by_customer[r["customer_id"]].append(r)
        return by_customer

    # address reuse, all against the same snapshot
    reuse_rows: list[dict] = []
    tried: set = set()
    if "address_reuse" in config.rules:
        snapshot = open_requests(paid)
        for x, _origin in pool:
            owner = by_address[x["to_address"]]
            amount = int(x["amount"])
            found = []
            for r in snapshot[owner["customer_id"]]:
                if r is owner:
                    continue
                if r["chain_id"] != x["chain_id"] or r["asset"] != x["asset"]:
                    continue
                remaining = r["due"] - paid[r["request_id"]]
                if not (0 <= remaining - amount <= r["tol"]):
                    continue
                score = (
                    conf.address_reuse_exact
                    if amount == remaining
                    else (conf.address_reuse_tolerance)
                )
                if x["block_time"] > r["expires_at"]:
                    score = min(score, conf.reuse_after_quote_expiry)
                found.append((score, r))
            if not found:
                continue
            tried.add(key(x))
            best = max(s for s, _ in found)
            winners = [r for s, r in found if s == best]
            for r in winners:
                reuse_rows.append(
                    dict(
                        request_id=r["request_id"],
                        key=key(x),
                        amount=amount,
                        eq=amount,
                        rule="address_reuse",
                        confidence=best,
                        tie=len(winners) > 1,
                    )
                )
        claims = defaultdict(int)
        for row in reuse_rows:
            if row["confidence"] >= auto_at and not row["tie"]:
                claims[row["request_id"]] += 1
        for row in reuse_rows:
            if row["confidence"] >= auto_at and not row["tie"] and claims[row["request_id"]] > 1:
                row["tie"] = True
        for row in reuse_rows:
            if row["confidence"] >= auto_at and not row["tie"]:
                paid[row["request_id"]] += row["amount"]
    matches += reuse_rows

    # batch: bounded subset sum against one snapshot
    batch_rows: list[dict] = []
    if "batch" in config.rules:
        snapshot = open_requests(paid)
        targets = [(x, t, 1) for x, t in excess_targets]
        targets += [(x, int(x["amount"]), 2) for x, _ in pool]
        for x, target, min_size in targets:
            if key(x) in tried:
                continue
            owner = by_address[x["to_address"]]
            cands = [
                r
                for r in snapshot[owner["customer_id"]]
                if r["chain_id"] == x["chain_id"]
                and r["asset"] == x["asset"]
                and r is not owner
                and r["due"] - paid[r["request_id"]] <= target
            ]
            cands.sort(key=lambda r: (r["created_at"], r["request_id"]))
            cands = cands[: config.subset_max_candidates]
            hits = []
            for size in range(min_size, config.subset_max_size + 1):
                for combo in combinations(cands, size):
                    if sum(r["due"] - paid[r["request_id"]] for r in combo) == target:
                        hits.append(combo)
            chosen = {r["request_id"]: r for combo in hits for r in combo}
            for rid in sorted(chosen, key=lambda i: cands.index(chosen[i])):
                r = chosen[rid]
                rem = r["due"] - paid[r["request_id"]]
                batch_rows.append(
                    dict(
                        request_id=rid,
                        key=key(x),
                        amount=rem,
                        eq=rem,
                        rule="batch",
                        confidence=conf.batch,
                        tie=len(hits) > 1,
                    )
                )
        claims = defaultdict(set)
        for row in batch_rows:
            if row["confidence"] >= auto_at and not row["tie"]:
                claims[row["request_id"]].add(row["key"])
        bad = {k for ks in claims.values() if len(ks) > 1 for k in ks}
        for row in batch_rows:
            if row["key"] in bad:
                row["tie"] = True
    matches += batch_rows

    for mt in matches:
        if mt["tie"]:
            mt["confidence"] = conf.tie
    matches = [mt for mt in matches if mt["confidence"] >= propose_at]
    for mt in matches:
        mt["decision"] = "auto" if mt["confidence"] >= auto_at and not mt["tie"] else "proposed"

    auto_keys = {mt["key"] for mt in matches if mt["decision"] == "auto"}
    batch_auto = {mt["key"] for mt in matches if mt["decision"] == "auto" and mt["rule"] == "batch"}
    proposed_keys = {mt["key"] for mt in matches if mt["decision"] == "proposed"}
    for x, excess in excess_targets:
        k = key(x)
        owner = by_address[x["to_address"]]
        if k in batch_auto:
            continue
        reason = "AMBIGUOUS" if k in proposed_keys and k not in own_review else "OVERPAYMENT"
        exceptions.append((reason, k, excess, owner["request_id"]))
    for x, origin in pool:
        k = key(x)
        owner = by_address[x["to_address"]]
        amount = int(x["amount"])
        if k in auto_keys:
            continue
        if k in proposed_keys:
            reason = "AMBIGUOUS"
        elif origin == "settled_address":
            reason = "DUPLICATE_PAYMENT" if amount == owner["due"] else "SETTLED_ADDRESS"
        else:
            reason = "AFTER_WINDOW"
        exceptions.append((reason, k, amount, owner["request_id"]))

    applied = defaultdict(int)
    for mt in matches:
        if mt["decision"] == "auto":
            applied[mt["request_id"]] += mt["eq"]
    over = {
        by_address[x["to_address"]]["request_id"]
        for x, _ in excess_targets
        if key(x) not in batch_auto
    }
    as_of = max((x["block_time"] for x in recs), default=None)
    status = {}
    for r in reqs:
        got = applied[r["request_id"]]
        s = classify_amount(r["due"], got, r["tol"]).value
        if s == "unpaid":
            s = "expired" if as_of is not None and r["monitor_until"] < as_of else "open"
        if r["request_id"] in over and s != "partial":
            s = "overpaid"
        status[r["request_id"]] = (s, got)
        if s == "partial":
            exceptions.append(("UNDERPAID", None, 0, r["request_id"]))
    return {"matches": matches, "exceptions": exceptions, "status": status}
