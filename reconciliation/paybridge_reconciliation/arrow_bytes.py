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


def any_in_range(data: np.ndarray, low: int, high: int) -> bool:
    """Any byte b with low <= b <= high (uint8 wrap-around: b - low <= high - low)."""
    scratch = np.empty(min(BLOCK, len(data)), dtype=np.uint8)
    for start in range(0, len(data), BLOCK):
        part = data[start : start + BLOCK]
        here = scratch[: len(part)]
        np.subtract(part, np.uint8(low), out=here)
        if here.min() <= high - low:
            return True
    return False


def edge_bytes(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last byte of every non-empty cell."""
    filled = offsets[1:] > offsets[:-1]
    return data[offsets[:-1][filled]], data[offsets[1:][filled] - 1]
