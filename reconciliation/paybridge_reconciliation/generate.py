"""Seeded scenario generator with ground truth, for tests, benchmarks and trying the engine.

Customers have five requests each. Each customer gets a pattern: independent requests (each
one exact / within tolerance / partial / split / over / late / wrong token / wrong chain /
unknown address / duplicate payment / duplicate event / not final / unpaid), a batch (one
transfer pays three invoices), address reuse (the next invoice is paid to a settled address),
a batch paid short by a fee (clearable by a person, not by exact subset sums), or a tie
(two open invoices with the same amount and a payment that fits both). Everything is
vectorised except the few late payments (1,000,000 requests: ~30 s here, mostly CSV text).

    python -m paybridge_reconciliation.generate --seed 1 --requests 1000 --out DIR [--mix hard]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object, div_ceil, exact_ints
from paybridge_reconciliation.fixed_point import minor_to_text
from paybridge_reconciliation.generate_payments import (
    GROUP,
    RATE_SCALE,
    START,
    Invoices,
    Receipts,
    hex_ids,
    on_chain,
    pay_patterns,
    pay_singles,
    truth_of,
)
from paybridge_reconciliation.inputs import RECEIPT_COLUMNS

USDC = {
    1: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
    137: "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359",
    8453: "0x833589fcd6f2ad9a6d5ad1e4bcf3b1e6ec1b2e3f",
}
CHAINS = np.array([1, 137, 8453])

SINGLE_KINDS = [
    "exact",
    "tolerance",
    "partial",
    "split",
    "over",
    "late",
    "wrong_token",
    "wrong_chain",
    "unknown_address",
    "duplicate_payment",
    "duplicate_event",
    "not_final",
    "unpaid",
]
MIXES: dict[str, dict[str, float]] = {
    "easy": {"exact": 0.8, "split": 0.1, "unpaid": 0.1},
    "hard": {
        "exact": 0.40,
        "tolerance": 0.05,
        "partial": 0.05,
        "split": 0.08,
        "over": 0.04,
        "late": 0.06,
        "wrong_token": 0.02,
        "wrong_chain": 0.02,
        "unknown_address": 0.02,
        "duplicate_payment": 0.03,
        "duplicate_event": 0.03,
        "not_final": 0.03,
        "unpaid": 0.17,
    },
}
# share of customers on multi-request patterns (the rest are independent requests)
# share of customers on: batch, reuse, tie, batch paid short by a fee (within tolerance)
PATTERNS = {"easy": (0.0, 0.0, 0.0, 0.0), "hard": (0.06, 0.06, 0.02, 0.02)}


@dataclass
class Scenario:
    requests: pd.DataFrame  # typed like paybridge_reconciliation.inputs.read_requests
    receipts: pd.DataFrame  # typed like read_receipts
    rates: pd.DataFrame  # typed like read_rates
    truth: pd.DataFrame  # (chain_id, tx_hash, event_key, request_id, amount) real applications
    truth_status: pd.DataFrame  # request_id, kind, clearable (bool), ambiguous (bool)


def _rates(rng: np.random.Generator, hours: int) -> pd.DataFrame:
    """Hourly rates per (chain, asset, currency): USDC ~1 USD / ~0.92 EUR, ETH ~3000 USD."""
    rows = []
    for chain in CHAINS.tolist():
        for asset, decimals, base in (
            (USDC[chain], 6, {"USD": 1.0, "EUR": 0.92}),
            ("native", 18, {"USD": 3000.0, "EUR": 2760.0}),
        ):
            for currency, level in base.items():
                walk = level * np.exp(np.cumsum(rng.normal(0, 0.002, hours)))
                if decimals == 6:
                    walk = level * (1 + rng.normal(0, 0.0003, hours))
                text = [f"{v:.6f}" for v in walk]
                rows.append(
                    pd.DataFrame(
                        {
                            "chain_id": chain,
                            "asset": asset,
                            "currency": currency,
                            "valid_from": START + pd.to_timedelta(np.arange(hours), unit="h"),
                            "rate_text": text,
                            "decimals": decimals,
                            "source": f"sim:{chain}:{asset[:6]}:{currency}",
                        }
                    )
                )
    out = pd.concat(rows, ignore_index=True)
    scaled = [int(t.replace(".", "")) * 10 ** (RATE_SCALE - 6) for t in out["rate_text"]]
    out["rate_scaled"] = exact_ints(np.array(scaled, dtype=object))
    out["valid_from"] = out["valid_from"].astype("datetime64[us, UTC]")
    return out[
        [
            "chain_id",
            "asset",
            "currency",
            "valid_from",
            "rate_scaled",
            "rate_text",
            "decimals",
            "source",
        ]
    ]


def generate(seed: int, n_requests: int, mix: str = "hard", days: int = 30) -> Scenario:
    """A scenario of ``n_requests`` (rounded down to whole customers) over ``days``; the same
    seed always gives the same scenario."""
    rng = np.random.default_rng(seed)
    n = (n_requests // GROUP) * GROUP
    rates = _rates(rng, days * 24 + 48)
    inv = _invoices(rng, seed, n, mix, days, rates)
    paid = Receipts(rng, inv)
    on_time = pd.to_timedelta(rng.integers(30, 14 * 60, n), unit="s")
    pay_singles(paid, seed, on_time)
    heads = pay_patterns(paid, on_time)
    rc, receipts = on_chain(rng, seed, pd.concat(paid.frames, ignore_index=True), inv.kind)
    truth = truth_of(receipts, rc, heads, paid.truth, inv.request_id)
    clearable = np.isin(
        inv.kind,
        [
            "exact",
            "tolerance",
            "split",
            "over",
            "late",
            "duplicate_payment",
            "duplicate_event",
            "batch",
            "batch_short",
            "reuse",
        ],
    )
    truth_status = pd.DataFrame(
        {
            "request_id": inv.request_id,
            "kind": inv.kind,
            "clearable": clearable,
            "ambiguous": inv.kind == "tie",
        }
    )
    receipts = receipts[RECEIPT_COLUMNS].copy()
    receipts["amount"] = exact_ints(receipts["amount"].to_numpy(dtype=object))
    receipts["chain_id"] = receipts["chain_id"].astype(np.int64)
    receipts["block_number"] = receipts["block_number"].astype(np.int64)
    return Scenario(inv.requests, receipts, rates, truth, truth_status)


def _invoices(
    rng: np.random.Generator, seed: int, n: int, mix: str, days: int, rates: pd.DataFrame
) -> Invoices:
    """Requests of n // GROUP customers, each customer on one chain and asset, each request
    quoted at the rate of its creation hour, and how each is to be paid."""
    i = np.arange(n)
    customer = i // GROUP
    chain = CHAINS[rng.integers(0, 3, n // GROUP)][customer]
    native = (rng.random(n // GROUP) < 0.15)[customer]
    asset = np.where(native, "native", pd.Series(chain).map(USDC).to_numpy(dtype=object))
    decimals = np.where(native, 18, 6)
    currency = np.where((rng.random(n // GROUP) < 0.2)[customer], "EUR", "USD").astype(object)
    minutes = rng.integers(0, days * 24 * 60, n)
    invoice_minor = rng.integers(1_000, 5_000_000, n)
    slot = i % GROUP
    kind, pat = _kinds(rng, n, mix, customer, slot)
    # tie twins: same invoice amount, created in the same minute as slot 1
    twin = (pat == "tie") & (slot == 2)
    invoice_minor[twin] = invoice_minor[np.flatnonzero(twin) - 1]
    minutes[twin] = minutes[np.flatnonzero(twin) - 1]
    # later slots of reuse / tie customers are created after slot 0 is paid
    later = ((pat == "reuse") | (pat == "tie")) & (slot >= 1)
    base_minutes = minutes[customer * GROUP]
    minutes[later] = base_minutes[later] + 120 + slot[later] * 7
    minutes[twin] = minutes[np.flatnonzero(twin) - 1]
    created = START + pd.to_timedelta(minutes, unit="min")

    # quote at creation (rate of that hour)
    rate_index = rates.set_index(["chain_id", "asset", "currency"])
    hour = minutes // 60
    rate_scaled = np.empty(n, dtype=object)
    keys = pd.DataFrame({"chain": chain, "asset": asset, "currency": currency, "hour": hour})
    for (c, a, cur), idx in keys.groupby(["chain", "asset", "currency"]).indices.items():
        table = rate_index.loc[(c, a, cur), "rate_scaled"].to_numpy(dtype=object)
        rate_scaled[idx] = table[hour[idx]]
    exponent = np.full(n, 2, dtype=np.int64)
    # amount due = ceil(invoice / rate), in base units
    num = as_object(invoice_minor) * (10 ** (RATE_SCALE + as_object(decimals)))
    den = as_object(rate_scaled) * (10 ** as_object(exponent))
    due = exact_ints(div_ceil(num, den))
    tol_units = exact_ints(
        np.minimum(
            as_object(due) * 5000 // 1_000_000, 100 * as_object(due) // as_object(invoice_minor)
        )
    )

    request_id = np.array([f"R{v:08d}" for v in i], dtype=object)
    address = hex_ids(seed, i, 40)
    expires = created + pd.Timedelta(minutes=15)
    monitor = created + pd.Timedelta(hours=24)
    requests = pd.DataFrame(
        {
            "request_id": request_id,
            "customer_id": np.array([f"C{v:07d}" for v in customer], dtype=object),
            "invoice_id": np.array([f"INV{v:08d}" for v in i], dtype=object),
            "chain_id": chain.astype(np.int64),
            "asset": asset,
            "deposit_address": address,
            "amount_due": due,
            "invoice_currency": currency,
            "currency_exponent": exponent,
            "invoice_minor": exact_ints(invoice_minor),
            "created_at": created.astype("datetime64[us, UTC]"),
            "expires_at": expires.astype("datetime64[us, UTC]"),
            "monitor_until": monitor.astype("datetime64[us, UTC]"),
        }
    )
    return Invoices(
        requests=requests,
        customer=customer,
        slot=slot,
        kind=kind,
        chain=chain,
        asset=asset,
        decimals=decimals,
        currency=currency,
        exponent=exponent,
        invoice_minor=invoice_minor,
        created=created,
        due=due,
        tol_units=tol_units,
        address=address,
        request_id=request_id,
        rate_index=rate_index,
    )


def _kinds(
    rng: np.random.Generator, n: int, mix: str, customer: np.ndarray, slot: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each request's kind of payment, and its customer's pattern."""
    batch_p, reuse_p, tie_p, short_p = PATTERNS[mix]
    draw = rng.random(n // GROUP)
    pattern = np.select(
        [
            draw < batch_p,
            draw < batch_p + reuse_p,
            draw < batch_p + reuse_p + tie_p,
            draw < batch_p + reuse_p + tie_p + short_p,
        ],
        ["batch", "reuse", "tie", "batch_short"],
        "single",
    )
    kinds_p = MIXES[mix]
    kind = rng.choice(list(kinds_p), size=n, p=np.array(list(kinds_p.values())))
    kind = kind.astype(object)
    pat = pattern[customer]
    kind[(pat == "batch") & (slot <= 2)] = "batch"
    kind[(pat == "batch") & (slot > 2)] = "exact"
    kind[(pat == "batch_short") & (slot <= 2)] = "batch_short"
    kind[(pat == "batch_short") & (slot > 2)] = "exact"
    kind[(pat == "reuse") & (slot == 0)] = "exact"
    kind[(pat == "reuse") & (slot == 1)] = "reuse"
    kind[(pat == "reuse") & (slot > 1)] = "exact"
    kind[(pat == "tie") & (slot == 0)] = "exact"
    kind[(pat == "tie") & (slot <= 2) & (slot >= 1)] = "tie"
    kind[(pat == "tie") & (slot > 2)] = "exact"
    return kind, pat


def _iso(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_csvs(scenario: Scenario, out: Path) -> dict[str, Path]:
    """The scenario in the reconcile-files input format, plus ground truth."""
    out.mkdir(parents=True, exist_ok=True)
    rq = scenario.requests
    requests = pd.DataFrame(
        {
            "request_id": rq["request_id"],
            "customer_id": rq["customer_id"],
            "invoice_id": rq["invoice_id"],
            "chain_id": rq["chain_id"],
            "asset": rq["asset"],
            "deposit_address": rq["deposit_address"],
            "amount_due": pd.Series(as_object(rq["amount_due"].to_numpy())).astype(str),
            "invoice_currency": rq["invoice_currency"],
            "invoice_amount": minor_to_text(
                rq["invoice_minor"].to_numpy(), rq["currency_exponent"].to_numpy()
            ),
            "created_at": _iso(rq["created_at"]),
            "expires_at": _iso(rq["expires_at"]),
            "monitor_until": _iso(rq["monitor_until"]),
        }
    )
    rc = scenario.receipts
    receipts = rc.assign(
        block_time=_iso(rc["block_time"]),
        amount=pd.Series(as_object(rc["amount"].to_numpy())).astype(str),
    )
    rates = scenario.rates.assign(valid_from=_iso(scenario.rates["valid_from"]))
    rates = rates.rename(columns={"rate_text": "rate"})[
        ["chain_id", "asset", "currency", "valid_from", "rate", "decimals", "source"]
    ]
    paths = {
        "requests": out / "requests.csv",
        "receipts": out / "receipts.csv",
        "rates": out / "rates.csv",
        "truth": out / "truth_matches.csv",
        "truth_status": out / "truth_requests.csv",
    }
    requests.to_csv(paths["requests"], index=False)
    receipts.to_csv(paths["receipts"], index=False)
    rates.to_csv(paths["rates"], index=False)
    scenario.truth.assign(amount=scenario.truth["amount"].astype(str)).to_csv(
        paths["truth"], index=False
    )
    scenario.truth_status.to_csv(paths["truth_status"], index=False)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--mix", choices=sorted(MIXES), default="hard")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    paths = write_csvs(generate(args.seed, args.requests, args.mix), args.out)
    for name, path in paths.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
