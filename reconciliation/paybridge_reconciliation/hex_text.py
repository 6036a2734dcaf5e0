"""Fixed-width ``0x`` hex text (addresses, tx hashes) read as bytes with numpy: a validity
check that stands in for a regex, and 64-bit keys so that a million of them are hashed and
joined as integers instead of as text.

Why: validating, joining and de-duplicating 1M addresses and tx hashes as text (RE2 regexes,
Arrow and pandas string hashing) was about a third of reading and matching. Every cell here has
the same width, so a column is one ``(rows, width)`` byte matrix: checks are byte arithmetic
and a key is eight bytes packed from sixteen hex digits at each end. A key only proposes; equal
keys are confirmed on every byte before anything is decided, and when keys collide the callers
take their text path, so results are exactly those of comparing the text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from paybridge_reconciliation.arrow_bytes import text_bytes

KEY_DIGITS = 16  # hex digits packed into one uint64 key
_BLOCK_ROWS = 1 << 16


def byte_matrix(values: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray | None:
    """The cells as one ``(rows, width)`` uint8 matrix, or None when a cell has another width
    (or the column has nulls or is not text)."""
    blocks = []
    try:
        for data, offsets in text_bytes(values):
            if not (np.diff(offsets) == width).all():
                return None
            blocks.append(data.reshape(-1, width))
    except TypeError:
        return None
    if not blocks:
        return np.zeros((0, width), dtype=np.uint8)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def is_prefixed_hex(cells: np.ndarray) -> bool:
    """Every row is ``0x`` then lower-case hex digits (the regex ``^0x[0-9a-f]{n}$``).
    Byte arithmetic, not a lookup table: indexing by 40M bytes costs several times more."""
    if not ((cells[:, 0] == ord("0")).all() and (cells[:, 1] == ord("x")).all()):
        return False
    digits = cells[:, 2:]
    for start in range(0, len(digits), _BLOCK_ROWS):  # blocks: the temporaries stay small
        block = digits[start : start + _BLOCK_ROWS]
        decimal = (block - np.uint8(ord("0"))) < 10  # uint8 wrap-around: one compare
        letter = (block - np.uint8(ord("a"))) < 6
        if not (decimal | letter).all():
            return False
    return True


def hex_cells(values: pa.Array | pa.ChunkedArray, digits: int) -> np.ndarray | None:
    """The cells' bytes when every cell is ``0x`` and exactly ``digits`` lower-case hex
    digits, else None (the caller then checks or compares the text itself)."""
    cells = byte_matrix(values, 2 + digits)
    return cells if cells is not None and is_prefixed_hex(cells) else None


def hex_keys(cells: np.ndarray) -> np.ndarray:
    """uint64 per row (rows from `hex_cells`): the first 16 hex digits XOR the last 16. Equal
    text gives equal keys; equal keys must still be confirmed with `same_rows`. Both ends,
    because real addresses and hashes are random throughout but ids made by counting (test
    data, vanity addresses) differ only at one end."""
    return _packed_word(cells[:, 2 : 2 + KEY_DIGITS]) ^ _packed_word(cells[:, -KEY_DIGITS:])


def _packed_word(digits: np.ndarray) -> np.ndarray:
    """16 lower-case hex digits per row -> uint64 ('0'-'9' -> 0-9, 'a'-'f' -> 10-15)."""
    nibbles = (digits & np.uint8(0x0F)) + np.uint8(9) * (digits >> np.uint8(6))
    packed = np.ascontiguousarray((nibbles[:, 0::2] << np.uint8(4)) | nibbles[:, 1::2])
    return packed.view(">u8").ravel().astype(np.uint64)


def same_rows(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise byte equality of two equally shaped byte matrices (rows compared as fixed-width
    byte strings: one comparison per row; the cells hold no NUL bytes)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    return as_byte_strings(left) == as_byte_strings(right)


def as_byte_strings(cells: np.ndarray) -> np.ndarray:
    """A ``(rows, width)`` byte matrix as a 1-D array of ``S<width>`` (no copy when
    contiguous): taking rows of it moves each row as one item."""
    cells = np.ascontiguousarray(cells)
    return cells.view(f"S{cells.shape[1]}").ravel()
