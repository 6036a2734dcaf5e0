"""ISO 8601 UTC text of timestamps to the second ('2026-01-05T00:17:45Z', '' for missing),
written as fixed-width rows (date, 'T', time of day, 'Z') into one byte buffer that Arrow
wraps as text: each date in the range once, each row one gather from the dates and one from
a table of the 86,400 times of day.

Why: publishing formats millions of block and payment times; Arrow's timestamp-to-text cast
plus the 'T'/'Z' edits took about 0.2 s per million here.
Only times from 1970 to 9999 spanning fewer days than a quarter of the rows take this path
(every digit at a fixed place, to the second as Arrow truncates); others take Arrow's casts.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WIDTH = 20  # YYYY-MM-DDThh:mm:ssZ
_FIRST = np.datetime64("1970-01-01", "D")
_PAST_LAST = np.datetime64("10000-01-01", "D")
_ROW = np.dtype([("date", "S10"), ("t", "S1"), ("time", "S8"), ("z", "S1")])  # 20 bytes


@functools.cache
def _time_of_day_text() -> np.ndarray:
    """'hh:mm:ss' of every second of a day (86,400 x 8 bytes), built on first use."""
    stamps = np.datetime_as_string(np.arange(86_400).astype("datetime64[s]"), unit="s")
    return np.array([stamp[11:] for stamp in stamps.tolist()], dtype="S8")


def iso_text(values: np.ndarray) -> pa.LargeStringArray:
    """Text of naive-UTC ``datetime64`` values (any unit), '' where NaT."""
    micro = np.asarray(values).astype("datetime64[us]")
    missing = np.isnat(micro)
    present = (micro[~missing] if missing.any() else micro).astype("datetime64[s]")
    if len(present) == 0:
        return _arrow_iso_text(micro, missing)
    day = present.astype("datetime64[D]")
    first, last = day.min(), day.max()
    span = int((last - first).astype(np.int64)) + 1
    if first < _FIRST or last >= _PAST_LAST or span > max(len(present) // 4, 4096):
        return _arrow_iso_text(micro, missing)
    # the dates of the days in range (usually a few hundred), then one gather per row
    dates = np.char.encode(np.datetime_as_string(first + np.arange(span), unit="D"))
    rows = np.empty(len(present), dtype=_ROW)
    rows["date"] = dates[(day - first).astype(np.int64)]
    rows["t"] = b"T"
    rows["time"] = _time_of_day_text()[(present - day).astype(np.int64)]
    rows["z"] = b"Z"
    offsets = np.zeros(len(micro) + 1, dtype=np.int64)
    np.cumsum(np.where(missing, 0, WIDTH), out=offsets[1:])
    return pa.LargeStringArray.from_buffers(
        len(micro), pa.py_buffer(offsets), pa.py_buffer(rows.view(np.uint8))
    )


def _arrow_iso_text(micro: np.ndarray, missing: np.ndarray) -> pa.LargeStringArray:
    """The same text through Arrow's casts (any year it can represent; to the second by
    truncation toward 1970, as Arrow casts)."""
    stamps = pa.array(micro, pa.timestamp("us"), mask=missing).cast(pa.timestamp("s"), safe=False)
    text = pc.replace_substring(pc.cast(stamps, pa.large_string()), " ", "T")
    text = pc.binary_join_element_wise(
        text, pa.scalar("Z", pa.large_string()), pa.scalar("", pa.large_string())
    )
    return pc.fill_null(text, "")
