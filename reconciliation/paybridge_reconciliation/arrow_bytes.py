"""The raw UTF-8 bytes of Arrow text columns, read with numpy, for cheap "is there anything to
do?" checks before a costly pass (a regex, a trim, a lower-casing) over millions of cells.

Why: the costly passes copy or scan every cell, yet most columns (hashes, addresses, ids,
amounts) never need them; SIMD minima over cache-sized blocks answer in a fraction of the time.
Every check here is exact: it answers "nothing to do" only when the pass would change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BLOCK = 1 << 18
_WIDTH = {pa.string(): np.int32, pa.large_string(): np.int64}


def text_bytes(values: pa.Array | pa.ChunkedArray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(data, offsets) per chunk: the chunk's bytes and its cells' offsets into them
    (``offsets[i]:offsets[i+1]`` is cell i). Raises TypeError for what it cannot read this way
    (nulls, non-string types): callers then take the plain path."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        width = _WIDTH.get(chunk.type)
        if width is None or chunk.null_count:
            raise TypeError("not a null-free string array")
        if len(chunk) == 0:
            continue
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=width)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = (
            np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
            if data_buf is not None
            else np.zeros(0, dtype=np.uint8)
        )
        yield data, (offsets - offsets[0]).astype(np.int64)


def _shifted_blocks(data: np.ndarray, low: int) -> Iterator[np.ndarray]:
    """``data - low`` (uint8, wrapping around below ``low``) in cache-sized blocks, each
    written into the same scratch buffer: a byte b lies in [low, high] exactly when its
    shifted value is at most high - low."""
    scratch = np.empty(min(BLOCK, len(data)), dtype=np.uint8)
    for start in range(0, len(data), BLOCK):
        part = data[start : start + BLOCK]
        here = scratch[: len(part)]
        np.subtract(part, np.uint8(low), out=here)
        yield here


def any_in_range(data: np.ndarray, low: int, high: int) -> bool:
    """Any byte b with low <= b <= high."""
    return any(block.min() <= high - low for block in _shifted_blocks(data, low))


def all_in_range(data: np.ndarray, low: int, high: int) -> bool:
    """Every byte b with low <= b <= high."""
    return all(block.max() <= high - low for block in _shifted_blocks(data, low))


def cell_lengths_within(offsets: np.ndarray, shortest: int, longest: int) -> bool:
    """Every cell is ``shortest`` to ``longest`` bytes long."""
    lengths = np.diff(offsets)
    return len(lengths) == 0 or (lengths.min() >= shortest and lengths.max() <= longest)


def all_digits(values: pa.Array | pa.ChunkedArray, longest: int) -> bool:
    """True only when every cell is 1 to ``longest`` ASCII digits (``^[0-9]{1,longest}$``);
    False also for what cannot be read as bytes (the caller's regex then decides)."""
    try:
        return all(
            cell_lengths_within(offsets, 1, longest) and all_in_range(data, 0x30, 0x39)
            for data, offsets in text_bytes(values)
        )
    except TypeError:
        return False


def all_decimals(values: pa.Array | pa.ChunkedArray) -> bool:
    """True only when every cell is digits with at most one inner point
    (``^[0-9]+(\\.[0-9]+)?$``): digits and points only, a digit at each end, one point at
    most per cell. False also for what cannot be read as bytes."""
    try:
        for data, offsets in text_bytes(values):
            if not cell_lengths_within(offsets, 1, len(data)):
                return False
            point = data == 0x2E
            if not all_in_range(np.where(point, np.uint8(0x30), data), 0x30, 0x39):
                return False
            if point[offsets[:-1]].any() or point[offsets[1:] - 1].any():
                return False
            before = np.concatenate([[0], np.cumsum(point, dtype=np.int64)])
            if (np.diff(before[offsets]) > 1).any():
                return False
    except TypeError:
        return False
    return True


def no_leading_zeros(values: pa.Array | pa.ChunkedArray) -> bool:
    """True only when no cell of digits starts with 0 unless it is "0" itself, so that each is
    the canonical text of its integer (what ``str(int(cell))`` gives back)."""
    try:
        for data, offsets in text_bytes(values):
            starts = offsets[:-1][np.diff(offsets) > 1]
            if (data[starts] == 0x30).any():
                return False
    except TypeError:
        return False
    return True


def strictly_ascending(values: pa.Array | pa.ChunkedArray) -> bool:
    """Text in strictly ascending order with no nulls (so unique and already sorted): an
    ordered column (ids in id order) needs no hash pass to show that no value repeats."""
    if values.null_count or not (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        return False
    return len(values) < 2 or pc.all(pc.less(values[:-1], values[1:])).as_py()


def edge_bytes(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last byte of every non-empty cell."""
    filled = offsets[1:] > offsets[:-1]
    return data[offsets[:-1][filled]], data[offsets[1:][filled] - 1]
