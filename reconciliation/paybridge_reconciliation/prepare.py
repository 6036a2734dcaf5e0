"""The engine's inputs made ready for the rules: requests in request_id order with their
tolerances, receipts in chain order, and the integer keys the rules compare (each receipt's
owning request by deposit address, its transaction code).

Why its own module: this is the work that depends only on the inputs, not on any rule, and it
runs as two independent halves (requests, receipts) on two threads (`prepare_inputs`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_FLOOR

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object, exact_ints, taken
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.hex_text import byte_matrix, same_rows, text_keys
from paybridge_reconciliation.identity import event_position, with_event_key
from paybridge_reconciliation.times import utc_naive
from paybridge_reconciliation.tolerance import PPM, percent_to_ppm, tolerance_units_vec

INT64_MAX = 2**63 - 1
ADDRESS_DIGITS, TX_HASH_DIGITS = 40, 64  # hex digits after 0x


def prepare_requests(requests: pd.DataFrame, config: ReconConfig) -> pd.DataFrame:
    rq = _by_request_id(requests)
    due = exact_ints(rq["amount_due"].to_numpy())
    invoice_minor = exact_ints(rq["invoice_minor"].to_numpy())
    names = list(config.tolerance_groups)
    if config.customer_groups:
        mapped = rq["customer_id"].map(config.customer_groups)
        used = pd.unique(mapped.dropna().astype(object)).tolist()
        if mapped.isna().any():
            used.append("default")
        group_code = np.zeros(len(rq), dtype=np.int64)
        for name in used:
            if name in config.tolerance_groups:
                rows = (mapped == name) if name != "default" else (mapped.isna() | (mapped == name))
                group_code[rows.to_numpy(bool)] = names.index(name)
    else:
        used = ["default"] if len(rq) else []
        group_code = np.full(len(rq), names.index("default") if "default" in names else 0)
    unknown = set(used) - set(config.tolerance_groups)
    if unknown:
        raise ValueError(f"customer_groups refer to unknown tolerance groups: {sorted(unknown)}")
    exponent = rq["currency_exponent"].to_numpy(np.int64)
    # per (group, currency exponent): percent in ppm and the absolute limit in minor units
    limit_ppm = np.array([percent_to_ppm(g.percent) for g in config.tolerance_groups.values()])
    ppm = limit_ppm[group_code] if len(names) else np.zeros(len(rq), dtype=np.int64)
    if len(rq):
        combo = pd.factorize(group_code * (int(exponent.max()) + 1) + exponent)[0]
    else:
        combo = np.zeros(0, dtype=np.int64)
    firsts = np.unique(combo, return_index=True)[1]
    scaled = [
        int(
            config.tolerance_groups[names[int(group_code[i])]]
            .absolute.scaleb(int(exponent[i]))
            .to_integral_value(rounding=ROUND_FLOOR)
        )
        for i in firsts.tolist()
    ]
    abs_table = np.array(scaled, dtype=object)
    if all(abs(v) <= INT64_MAX for v in scaled):
        abs_table = abs_table.astype(np.int64)
    abs_minor = abs_table[combo] if len(rq) else np.zeros(0, dtype=np.int64)
    group_text = pc.take(pa.array(names, pa.large_string()), pa.array(group_code))
    rq = rq.assign(
        amount_due=due,
        invoice_minor=invoice_minor,
        tolerance_group=pd.Series(group_text, dtype="str"),
        tolerance=exact_ints(tolerance_units(due, invoice_minor, abs_minor, ppm)),
    )
    return rq


def _by_request_id(requests: pd.DataFrame) -> pd.DataFrame:
    """Requests in request_id order (a stable sort; skipped when already in order)."""
    ids = pa.array(requests["request_id"])
    if ids.null_count == 0 and (len(ids) < 2 or pc.all(pc.less_equal(ids[:-1], ids[1:])).as_py()):
        return requests.reset_index(drop=True)
    return requests.sort_values("request_id", kind="stable").reset_index(drop=True)


def tolerance_units(
    due: np.ndarray, invoice_minor: np.ndarray, abs_minor: np.ndarray, ppm: np.ndarray
) -> np.ndarray:
    """`tolerance.tolerance_units_vec` (same floor divisions, same results), in int64 where safe.

    With q, r = divmod(due, d): x * due // d == x * q + x * r // d exactly, and neither product
    overflows int64 for the usual amounts (an 18-decimal due times a limit would). Rows outside
    the guarded range (negative, huge, or a product that could overflow) use Python ints.
    """
    n = len(due)
    due_a, inv_a, abs_a = (np.asarray(x) for x in (due, invoice_minor, abs_minor))
    ppm_a = np.asarray(ppm)
    fast = _small_nonnegative(due_a) & _small_nonnegative(inv_a) & _small_nonnegative(abs_a)
    fast &= (ppm_a >= 0) & (ppm_a < 2**40)
    rows = np.flatnonzero(fast)
    d = due_a[rows].astype(np.int64)
    inv = inv_a[rows].astype(np.int64)
    a = abs_a[rows].astype(np.int64)
    p = ppm_a[rows].astype(np.int64)
    priced = inv > 0
    divisor = np.where(priced, inv, 1)
    q_abs, r_abs = np.divmod(d, divisor)
    q_pct, r_pct = np.divmod(d, PPM)
    safe = ~priced | (
        (a <= INT64_MAX // (q_abs + 1))
        & (a <= INT64_MAX // divisor)
        & (p <= INT64_MAX // (q_pct + 1))
        & (p <= INT64_MAX // PPM)
    )
    with np.errstate(over="ignore"):  # unsafe rows are recomputed below with Python ints
        by_absolute = a * q_abs + (a * r_abs) // divisor
        by_percent = p * q_pct + (p * r_pct) // PPM
    result = np.where(priced, np.minimum(by_absolute, by_percent), 0)
    if len(rows) == n and safe.all():
        return result
    slow = np.ones(n, dtype=bool)
    slow[rows[safe]] = False
    slow_result = tolerance_units_vec(
        as_object(due_a[slow]), as_object(inv_a[slow]), as_object(abs_a[slow]), ppm_a[slow]
    )
    if np.all((slow_result >= -INT64_MAX) & (slow_result <= INT64_MAX)):
        out = np.empty(n, dtype=np.int64)  # tolerances are small even when amounts are not
    else:
        out = np.empty(n, dtype=object)
    out[rows[safe]] = result[safe]
    out[slow] = slow_result
    return out


def _small_nonnegative(values: np.ndarray) -> np.ndarray:
    """0 <= value < 2**63 - 1, elementwise (exact for Python-int object arrays too)."""
    return np.asarray((values >= 0) & (values < INT64_MAX), dtype=bool)


NUMERIC_RECEIPT_COLUMNS = [
    "chain_id",
    "event_code",
    "event_pos",
    "event_rank",
    "block_number",
    "block_time",
    "amount",
]


def prepare_receipts(receipts: pd.DataFrame) -> ChainOrderReceipts:
    """Receipts in chain order (time, chain, block, event position, then tx hash and event key;
    the event position is the log index of a ``log:<n>`` key, else 0).

    Event keys are coded once (pandas factorize): the few distinct keys are parsed and ranked,
    and every receipt gets its key's code, position and rank by an integer take."""
    receipts = with_event_key(receipts.reset_index(drop=True))
    event_code, uniques = pd.factorize(receipts["event_key"])
    if (event_code < 0).any():
        row = int(np.flatnonzero(event_code < 0)[0])
        raise ValueError(f"receipts row {row}: event_key is missing")
    unique_text = np.asarray(uniques, dtype=object)
    unique_rank = np.empty(len(unique_text), dtype=np.int64)
    unique_rank[np.argsort(unique_text.astype(str), kind="stable")] = np.arange(len(unique_text))
    event_code = event_code.astype(np.int64)
    receipts = receipts.assign(
        event_code=event_code,
        event_pos=event_position(unique_text)[event_code],
        event_rank=unique_rank[event_code],
    )
    keys = [
        receipts["event_pos"].to_numpy(np.int64),
        receipts["block_number"].to_numpy(np.int64),
        receipts["chain_id"].to_numpy(np.int64),
        utc_naive(receipts["block_time"]).astype(np.int64),
    ]
    order = np.lexsort(_packed(keys))
    sorted_keys = np.stack([k[order] for k in keys])
    same_as_next = (sorted_keys[:, 1:] == sorted_keys[:, :-1]).all(axis=0)
    if same_as_next.any():
        # receipts sharing (time, chain, block, event position), e.g. the transfers of one
        # transaction that are not logs; order each run by tx hash, then event key
        in_run = np.zeros(len(order), dtype=bool)
        in_run[:-1] |= same_as_next
        in_run[1:] |= same_as_next
        run_id = np.cumsum(np.r_[True, ~same_as_next])
        rows = np.flatnonzero(in_run)
        tx_hash = receipts["tx_hash"].take(order[rows]).to_numpy(dtype=object)
        tx_rank = pd.factorize(tx_hash, sort=True)[0]  # equal hashes share a rank
        rank = receipts["event_rank"].to_numpy()[order[rows]]
        within = np.lexsort([rank, tx_rank, run_id[rows]])  # run, tx hash, event key
        order[rows] = order[rows][within]
    numeric = pd.DataFrame(
        {
            name: receipts[name].array.take(order)
            for name in NUMERIC_RECEIPT_COLUMNS
            if name != "amount"
        },
        copy=False,
    )
    amount = taken(exact_ints(receipts["amount"].to_numpy()), order)
    numeric["amount"] = amount.values
    numeric["amount_int64"], numeric["amount_fits_int64"] = amount.int64, amount.fits
    numeric["rpos"] = np.arange(len(numeric))
    text = receipts[[c for c in receipts.columns if c not in NUMERIC_RECEIPT_COLUMNS]]
    return ChainOrderReceipts(numeric, text, order)


def address_owner(deposit_address: pd.Series, to_address: pd.Series) -> np.ndarray:
    """Position of the request owning each receipt's address, -1 if none.

    Deposit addresses are unique per request (`inputs.read_requests` rejects duplicates); were
    one repeated anyway, the first request (in request_id order) owns it. Addresses as read
    from files are joined by integer key (`_owner_by_key`); anything else by an Arrow hash
    lookup of the text.
    """
    keyed = _owner_by_key(deposit_address, to_address)
    if keyed is not None:
        return keyed
    deposits = text_array(deposit_address)
    found = pc.index_in(text_array(to_address), value_set=deposits)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _owner_by_key(deposit_address: pd.Series, to_address: pd.Series) -> np.ndarray | None:
    """`address_owner` for cells of one address's width (42 characters): 64-bit keys
    (`text_keys`) joined through a pandas hash index, every hit confirmed byte for byte. None
    when the text path must answer (a cell of another width, or two deposit addresses sharing
    a key). The cells need not be valid addresses here: the readers checked them, and a key
    only proposes."""
    width = 2 + ADDRESS_DIGITS
    deposits = byte_matrix(_arrow_text(deposit_address), width)
    receivers = byte_matrix(_arrow_text(to_address), width) if deposits is not None else None
    if receivers is None:
        return None
    index = pd.Index(text_keys(deposits))
    if not index.is_unique:
        return None
    owner = index.get_indexer(text_keys(receivers)).astype(np.int64)
    hits = np.flatnonzero(owner >= 0)
    owner[hits[~same_rows(receivers, hits, deposits, owner[hits])]] = -1
    return owner


def transaction_codes(tx_hash: pd.Series) -> np.ndarray:
    """pd.factorize codes of the tx hashes (by first appearance). Cells of a 32-byte hash's
    width (66 characters) are coded by 64-bit key (`text_keys`), each row confirmed equal to
    its code's first row byte for byte; the text is hashed only when a cell has another width
    or two hashes share a key."""
    cells = byte_matrix(_arrow_text(tx_hash), 2 + TX_HASH_DIGITS)
    if cells is not None and len(cells):
        codes = pd.factorize(text_keys(cells))[0].astype(np.int64)
        first_row = np.empty(int(codes.max()) + 1, dtype=np.int64)
        first_row[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # last write: first row
        again = np.flatnonzero(first_row[codes] != np.arange(len(codes)))  # repeated keys
        if same_rows(cells, again, cells, first_row[codes[again]]).all():
            return codes
    return pd.factorize(tx_hash)[0].astype(np.int64)


def _packed(keys: list[np.ndarray]) -> list[np.ndarray]:
    """Sort keys (least significant first) with chain, block and event position packed into one
    int64 when they are non-negative and their bit widths add up to at most 63: same order, one
    key fewer to sort by twice."""
    event_pos, block, chain, time = keys
    if len(time) == 0 or min(int(event_pos.min()), int(block.min()), int(chain.min())) < 0:
        return keys
    bits = [int(k.max()).bit_length() for k in (event_pos, block)]
    if sum(bits) + int(chain.max()).bit_length() > 63:
        return keys
    packed = (chain << (bits[0] + bits[1])) | (block << bits[0]) | event_pos
    return [packed, time]


def prepare_inputs(
    requests: pd.DataFrame, receipts: pd.DataFrame, config: ReconConfig
) -> tuple[pd.DataFrame, ChainOrderReceipts, np.ndarray, np.ndarray]:
    """Requests and receipts prepared, with each receipt's tx code and owning request (-1 for
    none), both by input row; the receipts' half on a second thread.

    Why: these steps were a third of matching at 1M (1.1 s) and form two independent halves
    whose numpy, pandas hash-table and Arrow work releases the GIL, so on two cores they
    overlap (0.56 s). Errors are those of one thread running requests then receipts: the
    requests' first, then the receipts' (before the join's)."""
    receipts = receipts.reset_index(drop=True)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-receipts") as pool:
        receipts_half = pool.submit(_receipts_half, receipts)
        rq = prepare_requests(requests, config)
        try:
            owner = address_owner(rq["deposit_address"], receipts["to_address"])
        except Exception:
            receipts_half.result()  # a bad receipts frame is the error to report
            raise
        rc, tx_code = receipts_half.result()
    return rq, rc, tx_code, owner


def _receipts_half(receipts: pd.DataFrame) -> tuple[ChainOrderReceipts, np.ndarray]:
    rc = prepare_receipts(receipts)
    return rc, transaction_codes(rc.in_input_order("tx_hash"))


def text_array(values: pd.Series | pd.Index | np.ndarray) -> pa.Array:
    """Text as one Arrow type, also when empty (an empty object column has no type to infer,
    and a lookup between a typed and an untyped array is not implemented)."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(values).cast(pa.large_string())  # already Arrow text: no Python strings
    return pa.array(np.asarray(values, dtype=object), type=pa.large_string())


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Arrow text of a column: the Arrow-backed ``str`` columns of `inputs` as they are (no
    copy), anything else converted as `text_array` does."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(values)
    return text_array(values)
