"""Fair value of received crypto in the invoice currency, at its block time.

Each allocation is valued at the rate of its chain, asset and invoice currency valid at the
receipt's block time (the rate file), or, when no rate is known, at the locked quote (the
invoice amount per base unit of the amount due). Integer minor units, rounded half-even; the
rate evidence used is returned beside the values for the published matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import (
    as_object,
    div_round_half_even,
    mul_div_half_even,
    pow10,
    small_ints,
    strip_pow10,
    unify,
)
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.labels import coded
from paybridge_reconciliation.rates import lookup_rates
from paybridge_reconciliation.times import utc_naive

if TYPE_CHECKING:
    from paybridge_reconciliation.chain_order import ChainOrderReceipts


def fair_values(
    amounts: np.ndarray,
    ri: np.ndarray,
    rpos: np.ndarray,
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    rates: pd.DataFrame | None,
    config: ReconConfig,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Fair value (minor units, half-even) of each allocation, and the rate evidence used.
    The values are int64 when every one is, else Python ints."""
    keys = pd.DataFrame(
        {
            "chain_id": rc["chain_id"].to_numpy()[rpos],
            "asset": rc.coded_at("asset", rpos),
            "currency": coded(rq["invoice_currency"], ri),
            "at": utc_naive(rc["block_time"])[rpos],
        }
    )
    found = lookup_rates(keys, rates, "currency", "at")
    has_rate = (found["source"] != "").to_numpy(dtype=bool)  # compared in Arrow, no str objects
    exponent = rq["currency_exponent"].to_numpy()[ri].astype(np.int64)
    amt = as_object(amounts)
    parts: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, their fair values)
    quoted = ~has_rate
    if quoted.any():
        due = rq["amount_due"].to_numpy()[ri][quoted]
        invoice = rq["invoice_minor"].to_numpy()[ri][quoted]
        parts.append((quoted, mul_div_half_even(amt[quoted], invoice, due, int64_if_all_fit=True)))
    if has_rate.any():
        scaled = found["rate_scaled"].to_numpy(dtype=object)
        decimals = found["decimals"].to_numpy().astype(np.int64)
        rate_row = found["rate_row"].to_numpy(np.int64)
        # few distinct (currency exponent, token decimals): scalar powers of ten per group
        combos = pd.DataFrame({"e": exponent[has_rate], "d": decimals[has_rate]}).drop_duplicates()
        for e, d in combos.itertuples(index=False):
            sel = has_rate & (exponent == e) & (decimals == d)
            # value = amt * rate / 10**shift, half-even; the rate's trailing zeros (rate file
            # rows, a small table) cancel against 10**shift, so amt x mantissa fits int64 more
            shift = config.rate_scale + int(d) - int(e)
            if shift < 0:  # an exact product (a currency with more decimals than the token)
                num = amt[sel] * scaled[sel] * (10 ** int(e))
                parts.append((sel, div_round_half_even(num, 10 ** (config.rate_scale + int(d)))))
                continue
            zeros, mantissa = strip_pow10(rates["rate_scaled"].to_numpy(), shift)
            rows = rate_row[sel]
            parts.append(
                (
                    sel,
                    mul_div_half_even(
                        amt[sel],
                        small_ints(mantissa)[rows],
                        pow10(shift - zeros[rows]),
                        int64_if_all_fit=True,
                    ),
                )
            )
    # int64 when every fair value fits (fiat minor units nearly always do, even where amount x
    # rate needed Python ints): its readers then take it as it is, without a Python int per
    # allocation made here and read back there
    value, *filled = unify(np.zeros(len(amt), np.int64), *[small_ints(v) for _, v in parts])
    for (rows, _), values in zip(parts, filled, strict=True):
        value[rows] = values
    # lookup_rates leaves rate_text '' where there is no rate; the quote is the source then
    source = pc.if_else(
        pa.array(has_rate),
        pa.array(found["source"]).cast(pa.large_string()),
        pa.scalar("quote", pa.large_string()),
    )
    evidence = pd.DataFrame(
        {
            "rate": found["rate_text"].astype("str"),
            "rate_source": pd.Series(source, dtype="str"),
            "rate_valid_from": found["valid_from"],
        }
    )
    return value, evidence
