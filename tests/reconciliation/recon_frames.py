"""Frame builders shared by the reconciliation tests (plain helpers, not fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

T0 = pd.Timestamp("2026-03-02T10:00:00Z")
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
OTHER = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def addr(n: int) -> str:
    return "0x" + format(n, "040x")


def tx(n: int) -> str:
    return "0x" + format(n, "064x")


def requests_frame(rows: list[dict]) -> pd.DataFrame:
    """rows: request_id, customer_id, due, [invoice_minor, chain_id, asset, address, created]."""
    out = []
    for i, r in enumerate(rows):
        created = r.get("created", T0)
        out.append(
            {
                "request_id": r["request_id"],
                "customer_id": r.get("customer_id", "C1"),
                "invoice_id": "INV-" + r["request_id"],
                "chain_id": r.get("chain_id", 1),
                "asset": r.get("asset", USDC),
                "deposit_address": r.get("address", addr(i + 1)),
                "amount_due": r["due"],
                "invoice_currency": r.get("currency", "USD"),
                "currency_exponent": 2,
                "invoice_minor": r.get("invoice_minor", r["due"] // 10_000),
                "created_at": created,
                "expires_at": created + pd.Timedelta(minutes=15),
                "monitor_until": created + pd.Timedelta(hours=24),
            }
        )
    frame = pd.DataFrame(out)
    frame["amount_due"] = frame["amount_due"].astype(object)
    frame["invoice_minor"] = frame["invoice_minor"].astype(object)
    for c in ("created_at", "expires_at", "monitor_until"):
        frame[c] = frame[c].astype("datetime64[us, UTC]")
    return frame


def receipts_frame(rows: list[dict]) -> pd.DataFrame:
    """rows: to (address), amount, [minutes after T0, chain_id, asset, status, n (tx id)]."""
    out = []
    for i, r in enumerate(rows):
        out.append(
            {
                "chain_id": r.get("chain_id", 1),
                "tx_hash": tx(r.get("n", i + 1)),
                "event_key": r.get("event_key", f"log:{r.get('log_index', 0)}"),
                "block_number": 1000 + int(r.get("minutes", 1) * 5),
                "block_time": T0 + pd.Timedelta(minutes=r.get("minutes", 1)),
                "asset": r.get("asset", USDC),
                "from_address": addr(999),
                "to_address": r["to"],
                "amount": r["amount"],
                "status": r.get("status", "finalized"),
            }
        )
    frame = pd.DataFrame(out)
    frame["amount"] = np.array([int(v) for v in frame["amount"]], dtype=object)
    frame["block_time"] = frame["block_time"].astype("datetime64[us, UTC]")
    return frame


def rates_frame(rows: list[dict], scale: int = 18) -> pd.DataFrame:
    """rows: rate (str), [minutes, chain_id, asset, currency, decimals, source]."""
    frame = pd.DataFrame(
        [
            {
                "chain_id": r.get("chain_id", 1),
                "asset": r.get("asset", USDC),
                "currency": r.get("currency", "USD"),
                "valid_from": T0 + pd.Timedelta(minutes=r.get("minutes", 0)),
                "rate_scaled": int(r["rate"].replace(".", ""))
                * 10 ** (scale - len(r["rate"].split(".")[1])),
                "rate_text": r["rate"],
                "decimals": r.get("decimals", 6),
                "source": r.get("source", "test-feed"),
            }
            for r in rows
        ]
    )
    frame["rate_scaled"] = frame["rate_scaled"].astype(object)
    frame["valid_from"] = frame["valid_from"].astype("datetime64[us, UTC]")
    return frame
