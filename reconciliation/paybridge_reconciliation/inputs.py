"""Read and validate the reconcile-files CSVs into exact, typed DataFrames.

Everything is read as text with pyarrow (fast, no type guessing), then validated column by
column with vectorised checks; the first bad value raises InputFileError naming the file, the
line (header is line 1) and the column. Extra columns are ignored. The header is parsed as CSV
(quoted names, spaces after commas); the file must be UTF-8 (a BOM is allowed). A file that is
not CSV at all is located on the error path only (the first undecodable line, or the first line
with the wrong number of fields). Amounts in base units come with their canonical text
(``amount_due_text``, ``amount_text``), which publishing writes back without formatting again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import iso4217
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from paybridge_reconciliation.amounts import exact_ints
from paybridge_reconciliation.arrow_bytes import (
    all_decimals,
    all_digits,
    any_in_range,
    edge_bytes,
    no_leading_zeros,
    strictly_ascending,
    text_bytes,
)
from paybridge_reconciliation.fixed_point import decimal_units, decimal_widths, int_text_series
from paybridge_reconciliation.hex_text import byte_matrix, hex_cells, text_keys
from paybridge_reconciliation.identity import event_keys_from_log_index, valid_event_keys
from paybridge_reconciliation.safe_text import recover_array

REQUEST_COLUMNS = [
    "request_id",
    "customer_id",
    "invoice_id",
    "chain_id",
    "asset",
    "deposit_address",
    "amount_due",
    "invoice_currency",
    "invoice_amount",
    "created_at",
    "expires_at",
    "monitor_until",
]
RECEIPT_COLUMNS = [
    "chain_id",
    "tx_hash",
    "event_key",
    "block_number",
    "block_time",
    "asset",
    "from_address",
    "to_address",
    "amount",
    "status",
]
RATE_COLUMNS = ["chain_id", "asset", "currency", "valid_from", "rate", "decimals", "source"]
RECEIPT_STATUSES = ("detected", "confirmed", "finalized")

ADDRESS_RE = r"^0x[0-9a-f]{40}$"
ASSET_RE = r"^(native|0x[0-9a-f]{40})$"
TX_HASH_RE = r"^0x[0-9a-f]{64}$"
UINT_RE = r"^[0-9]{1,78}$"
SMALL_UINT_RE = r"^[0-9]{1,18}$"
DECIMAL_RE = r"^[0-9]+(\.[0-9]+)?$"
CURRENCY_RE = r"^[A-Z]{3}$"
#: patterns first checked as bytes, which can only say "every cell matches" (hex_text,
#: arrow_bytes); when one cannot, the regex runs and finds the first bad row
MATCH_ALL_AS_BYTES: dict[str, Callable[[pa.ChunkedArray], bool]] = {
    ADDRESS_RE: lambda values: hex_cells(values, 40) is not None,
    TX_HASH_RE: lambda values: hex_cells(values, 64) is not None,
    UINT_RE: lambda values: all_digits(values, 78),
    SMALL_UINT_RE: lambda values: all_digits(values, 18),
    DECIMAL_RE: all_decimals,
}
#: patterns of columns with a handful of distinct values (assets, currencies): the regex runs
#: on the distinct values, not on every row
FEW_VALUES = {ASSET_RE, CURRENCY_RE}


@dataclass(frozen=True)
class InputFileError(ValueError):
    """A bad value in an input file, located for a human."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}"


def header_columns(path: Path) -> list[str]:
    """The column names of a CSV's header row, parsed as CSV (quotes, spaces after commas)."""
    name = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.readline(1 << 20)
    except OSError as exc:
        raise InputFileError(name, None, None, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        header = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(name, 1, None, f"not UTF-8 text ({exc.reason})") from exc
    if not header.strip():
        raise InputFileError(name, 1, None, "no header row (expected the column names)")
    try:
        row = next(csv.reader([header.rstrip("\r\n")], skipinitialspace=True), [])
    except csv.Error as exc:  # e.g. a stray carriage return inside the header
        raise InputFileError(name, 1, None, f"header row is not valid CSV ({exc})") from exc
    columns = [c.strip() for c in row]
    for column in columns:
        if columns.count(column) > 1:
            raise InputFileError(name, 1, column, "column appears twice in the header")
    return columns


def _locate_csv_problem(path: Path, width: int) -> tuple[int | None, str]:
    """Error path only: the first line that is not UTF-8 or has the wrong number of fields."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return number, f"not UTF-8 text ({exc.reason} at byte {exc.start + 1})"
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), skipinitialspace=True)
    try:
        for row in reader:
            if row and len(row) != width:
                return reader.line_num, f"expected {width} fields, found {len(row)}"
    except csv.Error as exc:
        return reader.line_num, f"not valid CSV ({exc})"
    return None, "not a valid CSV file"


def read_text_columns(path: Path, present: list[str], columns: list[str]) -> pa.Table:
    """``columns`` of a CSV whose header is ``present``, every cell as Arrow text, parsed on
    Arrow's threads; nothing is checked here (`_Table` checks every cell)."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=True, block_size=64 << 20, column_names=present, skip_rows=1
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in present},
            include_columns=columns,
            strings_can_be_null=False,
        ),
    )


class _Table:
    """Text columns of one CSV plus the file name, for located errors."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.name = str(path)
        present = header_columns(path)
        for column in columns:
            if column not in present:
                raise InputFileError(self.name, 1, column, "required column is missing")
        try:
            self.table = read_text_columns(path, present, columns)
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            try:
                line, message = _locate_csv_problem(path, len(present))
            except (OSError, UnicodeDecodeError):
                line, message = None, "not a valid CSV file"
            raise InputFileError(self.name, line, None, message) from exc

    def fail(self, mask: np.ndarray, column: str, message: str) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            row = int(bad[0])
            value = self.table.column(column)[row].as_py()
            raise InputFileError(self.name, row + 2, column, f"{message} (got {value!r})")

    def text(self, column: str, lower: bool = False) -> pa.ChunkedArray:
        values = self.table.column(column)
        if _may_need_trim(values):
            values = pc.utf8_trim_whitespace(values)
        self.fail(pc.equal(values, "").to_numpy(zero_copy_only=False), column, "empty value")
        values = recover_array(values)  # cells written spreadsheet-safe (safe_text) read back
        return pc.utf8_lower(values) if lower and _may_need_lower(values) else values

    def matching(self, column: str, pattern: str, message: str, lower: bool = True):
        values = self.text(column, lower=lower)
        as_bytes = MATCH_ALL_AS_BYTES.get(pattern)
        if as_bytes is not None and as_bytes(values):
            return values
        if (
            pattern in FEW_VALUES
            and pc.all(pc.match_substring_regex(pc.unique(values), pattern)).as_py()
        ):
            return values
        ok = pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False)
        self.fail(~ok, column, message)
        return values

    def small_int(self, column: str) -> np.ndarray:
        values = self.matching(column, SMALL_UINT_RE, "expected a non-negative integer")
        return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)

    def big_int(self, column: str) -> tuple[np.ndarray, pd.Series]:
        """Base units as exact integers, and their canonical decimal text: the cells as read
        when none has a leading zero (the usual case), else formatted from the integers.

        Why the text: publishing writes these amounts again; 1M Python ints spread over the
        heap cost about half a second to format, taking their text costs a gather."""
        values = self.matching(column, UINT_RE, "expected integer base units")
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
        if len(lengths) == 0 or lengths.max() <= 18:
            ints = exact_ints(pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False))
        else:
            as_ints = decimal_units(values, 0)
            self.fail(as_ints >= 2**256, column, "amount exceeds 2**256-1")
            ints = exact_ints(as_ints)
        text = _str(values) if no_leading_zeros(values) else int_text_series(ints)
        return ints, text

    def timestamp(self, column: str) -> pd.Series:
        """ISO 8601 with a zone (Z or +hh:mm), parsed by Arrow; the error path finds the row."""
        values = self.text(column)
        target = pa.timestamp("us", tz="UTC")
        try:
            parsed = pc.cast(values, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = np.zeros(len(values), dtype=bool)
            for i, value in enumerate(values.to_pylist()):
                try:
                    pa.scalar(value).cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    bad[i] = True
                    break
            self.fail(bad, column, "expected an ISO 8601 timestamp with zone, e.g. ...T10:00:00Z")
            raise
        return pd.Series(parsed.to_pandas(), name=column).astype("datetime64[us, UTC]")

    def fixed_point(self, column: str, exponents: np.ndarray) -> np.ndarray:
        """Decimal text -> integer in units of 10**-exponent (per row); refuses lost digits."""
        values = self.matching(column, DECIMAL_RE, "expected a non-negative decimal", False)
        whole, decimals = decimal_widths(values)
        self.fail(decimals > exponents, column, "more decimals than the currency/scale allows")
        one = len(exponents) and exponents.min() == exponents.max()  # the usual case: no sort
        unique = [int(exponents[0])] if one else np.unique(exponents).tolist()
        if len(unique) == 1:
            return exact_ints(decimal_units(values, int(unique[0]), (whole, decimals)))
        groups = []
        for exp in unique:
            sel = exponents == exp
            widths = (whole[sel], decimals[sel])
            groups.append((sel, decimal_units(pc.filter(values, sel), int(exp), widths)))
        big = any(ints.dtype == object for _, ints in groups)
        out = np.zeros(len(exponents), dtype=object if big else np.int64)
        for sel, ints in groups:
            out[sel] = ints
        return exact_ints(out)


# bytes a trim may remove: space and every control byte (Arrow counts U+001C-U+001F as space
# too), and any byte >= 0x80 (a cell may start or end with a Unicode space)
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[*range(0x00, 0x21), 0x7F, *range(0x80, 0x100)]] = True


def _may_need_trim(values: pa.ChunkedArray) -> bool:
    """False only when no cell starts or ends with whitespace (a trim would copy 1M cells)."""
    try:
        for data, offsets in text_bytes(values):
            first, last = edge_bytes(data, offsets)
            if _SPACE[first].any() or _SPACE[last].any():
                return True
    except TypeError:
        return True
    return False


def _may_need_lower(values: pa.ChunkedArray) -> bool:
    """False only when the text has no A-Z and is all ASCII (lower-casing changes nothing)."""
    try:
        for data, _ in text_bytes(values):
            if any_in_range(data, 0x41, 0x5A) or any_in_range(data, 0x80, 0xFF):
                return True
    except TypeError:
        return True
    return False


def _str(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Arrow text as a pandas ``str`` column, zero-copy (no Python string objects: building a
    column from an object array costs about 3 s per million values here)."""
    return pd.Series(values, dtype="str")


def currency_exponents(currencies: pd.Series, table: _Table, column: str) -> np.ndarray:
    codes, unique = pd.factorize(currencies)
    known: list[int] = []
    for code in unique.tolist():
        try:
            exponent = iso4217.Currency(code).exponent
        except (ValueError, KeyError):
            exponent = None
        if exponent is None:
            table.fail(np.asarray(currencies == code, bool), column, "unknown ISO 4217 currency")
        known.append(int(exponent))
    return np.asarray(known, dtype=np.int64)[codes]


def read_requests(path: Path) -> pd.DataFrame:
    t = _Table(path, REQUEST_COLUMNS)
    currency = t.matching("invoice_currency", CURRENCY_RE, "expected an ISO 4217 code", False)
    currency_text = _str(currency)
    exponents = currency_exponents(currency_text, t, "invoice_currency")
    amount_due, amount_due_text = t.big_int("amount_due")
    df = pd.DataFrame(
        {
            "request_id": _str(t.text("request_id")),
            "customer_id": _str(t.text("customer_id")),
            "invoice_id": _str(t.text("invoice_id")),
            "chain_id": t.small_int("chain_id"),
            "asset": _str(t.matching("asset", ASSET_RE, "expected 'native' or a token address")),
            "deposit_address": _str(
                t.matching("deposit_address", ADDRESS_RE, "expected an address")
            ),
            "amount_due": amount_due,
            "amount_due_text": amount_due_text,
            "invoice_currency": currency_text,
            "currency_exponent": exponents,
            "invoice_minor": t.fixed_point("invoice_amount", exponents),
            "created_at": t.timestamp("created_at"),
            "expires_at": t.timestamp("expires_at"),
            "monitor_until": t.timestamp("monitor_until"),
        }
    )
    if not strictly_ascending(pa.array(df["request_id"])):  # files in id order need no hashing
        t.fail(df["request_id"].duplicated().to_numpy(), "request_id", "duplicate request_id")
    if not _distinct_addresses(df["deposit_address"]):
        t.fail(
            df["deposit_address"].duplicated().to_numpy(),
            "deposit_address",
            "deposit address used by two requests",
        )
    t.fail((df["amount_due"].to_numpy() <= 0), "amount_due", "amount_due must be > 0")
    t.fail((df["invoice_minor"].to_numpy() <= 0), "invoice_amount", "invoice_amount must be > 0")
    t.fail(
        (df["expires_at"] > df["monitor_until"]).to_numpy(),
        "monitor_until",
        "monitor_until is before expires_at",
    )
    return df


def _distinct_addresses(addresses: pd.Series) -> bool:
    """True when no address repeats, decided by 64-bit keys (`hex_text`); False also when the
    keys cannot tell (two addresses sharing a key): the text check then finds the row."""
    cells = byte_matrix(pa.array(addresses), 42)  # checked as addresses before this
    return cells is not None and pd.Index(text_keys(cells)).is_unique


def read_receipts(path: Path) -> pd.DataFrame:
    """Receipts; ``event_key`` names the transfer inside its transaction. A file without that
    column (written before event keys) is read by its ``log_index``: each row is ``log:<n>``."""
    columns = RECEIPT_COLUMNS
    if "event_key" not in header_columns(path) and "log_index" in header_columns(path):
        columns = [c if c != "event_key" else "log_index" for c in RECEIPT_COLUMNS]
    t = _Table(path, columns)
    status = t.text("status", lower=True)
    ok = pc.is_in(status, pa.array(RECEIPT_STATUSES)).to_numpy(zero_copy_only=False)
    t.fail(~ok, "status", f"expected one of {', '.join(RECEIPT_STATUSES)}")
    if "event_key" in columns:
        event_key = t.text("event_key", lower=True)
        t.fail(
            ~valid_event_keys(event_key),
            "event_key",
            "expected log:<index>, tx or trace:<path> (e.g. trace:0.1)",
        )
        event_keys = _str(event_key)
    else:
        event_keys = event_keys_from_log_index(t.small_int("log_index"))
    amount, amount_text = t.big_int("amount")
    return pd.DataFrame(
        {
            "chain_id": t.small_int("chain_id"),
            "tx_hash": _str(t.matching("tx_hash", TX_HASH_RE, "expected a 32-byte 0x hash")),
            "event_key": event_keys,
            "block_number": t.small_int("block_number"),
            "block_time": t.timestamp("block_time"),
            "asset": _str(t.matching("asset", ASSET_RE, "expected 'native' or a token address")),
            "from_address": _str(t.matching("from_address", ADDRESS_RE, "expected an address")),
            "to_address": _str(t.matching("to_address", ADDRESS_RE, "expected an address")),
            "amount": amount,
            "amount_text": amount_text,
            "status": _str(status),
        }
    )


def read_rates(path: Path, rate_scale: int) -> pd.DataFrame:
    t = _Table(path, RATE_COLUMNS)
    n = t.table.num_rows
    df = pd.DataFrame(
        {
            "chain_id": t.small_int("chain_id"),
            "asset": _str(t.matching("asset", ASSET_RE, "expected 'native' or a token address")),
            "currency": _str(
                t.matching("currency", CURRENCY_RE, "expected an ISO 4217 code", False)
            ),
            "valid_from": t.timestamp("valid_from"),
            "rate_scaled": t.fixed_point("rate", np.full(n, rate_scale, dtype=np.int64)),
            "rate_text": _str(t.text("rate")),
            "decimals": t.small_int("decimals"),
            "source": _str(t.text("source")),
        }
    )
    t.fail((df["decimals"].to_numpy() > 36), "decimals", "decimals must be <= 36")
    t.fail(df["rate_scaled"].to_numpy() <= 0, "rate", "rate must be > 0")
    t.fail(
        df.duplicated(["chain_id", "asset", "currency", "valid_from"]).to_numpy(),
        "valid_from",
        "two rates for the same asset, currency and time",
    )
    return df
