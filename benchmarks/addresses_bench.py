"""Deposit-address derivation throughput (target: >= 5,000 addresses/s).

Public derivation from the anvil demo account xpub: the external-chain node (``.../0``) is
derived once per wallet (bip-utils), then one CKDpub (coincurve) + keccak per address. Reports
the median of several runs; the machine is shared, so the spread (min/max) is reported too.
"""

from __future__ import annotations

import json
import statistics
import time

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet, derive_addresses

TARGET_ADDRESSES_PER_S = 5_000
BATCH = 5_000
RUNS = 7


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run() -> dict:
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    wallet.addresses(0, 100)  # warm-up: imports, caches
    batch_rates: list[float] = []
    for run_number in range(RUNS):
        start = run_number * BATCH  # fresh indexes each run: nothing is cached per index
        began = time.perf_counter()
        addresses = wallet.addresses(start, BATCH)
        batch_rates.append(_rate(len(addresses), time.perf_counter() - began))

    # cold path: parse the xpub and derive the change node every call (one address per call)
    cold_count = 500
    began = time.perf_counter()
    for index in range(cold_count):
        WatchOnlyWallet(ANVIL_DEMO_XPUB).address(index)
    cold_rate = _rate(cold_count, time.perf_counter() - began)

    # the module-level helper (cached wallet per xpub), as library callers use it
    began = time.perf_counter()
    derive_addresses(ANVIL_DEMO_XPUB, 10**6, BATCH)
    helper_rate = _rate(BATCH, time.perf_counter() - began)

    median = statistics.median(batch_rates)
    return {
        "name": "addresses",
        "what": "EIP-55 deposit addresses per second, CKDpub (coincurve) from an account xpub",
        "batch_size": BATCH,
        "runs": RUNS,
        "median_addresses_per_s": round(median, 1),
        "min_addresses_per_s": round(min(batch_rates), 1),
        "max_addresses_per_s": round(max(batch_rates), 1),
        "derive_addresses_helper_per_s": round(helper_rate, 1),
        "cold_wallet_per_address_per_s": round(cold_rate, 1),
        "target_addresses_per_s": TARGET_ADDRESSES_PER_S,
        "ratio_to_target": round(median / TARGET_ADDRESSES_PER_S, 2),
        "meets_target": median >= TARGET_ADDRESSES_PER_S,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
