"""Reading a file someone handed us: bounded, decoded strictly, parsed without surprises.

Every input file (invoice imports today) goes through here before any parser sees it, so a
hostile or careless file ends in :class:`InputFileError` naming the file and the problem,
never in a traceback or a crash:

- only a regular file is read (a directory, a FIFO or ``/dev/zero`` is refused before opening),
  and at most :data:`MAX_FILE_BYTES` of it;
- the text must be UTF-8 (a UTF-8 byte-order mark is dropped); UTF-16/32, Latin-1, binary and
  NUL bytes are named as the file's encoding problem with the line where it shows;
- JSON nesting is bounded by a cheap bracket scan *before* ``json`` parses it (a deeply nested
  file otherwise exhausts the recursion limit, and a dependency raises that limit far enough
  for the interpreter to segfault), duplicated keys are marked (the record is refused later,
  by name), and numbers keep their literal text so a 5,000-digit number or ``1e3`` is judged
  by the field it is in, never converted;
- CSV fields may be as long as the file; their length is judged per field afterwards.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Largest input file read (64 MiB: several hundred thousand invoices).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Deepest JSON nesting accepted; an invoice file needs 3 (``{"invoices": [{...}]}``).
MAX_JSON_DEPTH = 32

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class InputFileError(ValueError):
    """The file as a whole cannot be read; the message names the file and the problem."""


class JsonNumber(str):
    """A JSON number kept as the exact text written in the file (never converted)."""

    is_integer: bool = True


class JsonFloat(JsonNumber):
    """A JSON number with a fraction, an exponent, or NaN/Infinity."""

    is_integer = False


class JsonObject(dict[str, Any]):
    """A JSON object that remembers which keys the file gave more than once."""

    duplicates: tuple[str, ...] = ()


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The file's text, if it is a regular, bounded, UTF-8 file; else :class:`InputFileError`."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InputFileError(
            f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a directory; give the invoice file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path}: not a regular file")
    if info.st_size > max_bytes:
        raise InputFileError(f"{path}: {info.st_size} bytes, larger than the limit of {max_bytes}")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{path}: larger than the limit of {max_bytes} bytes")
    return decode_utf8(data, path)


def decode_utf8(data: bytes, path: Path | str) -> str:
    """UTF-8 text with or without a BOM; any other encoding is named as the problem."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputFileError(
                f"{path}: encoding problem: the file is {name} (byte-order mark); save it as UTF-8"
            )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise InputFileError(
            f"{path}: encoding problem: NUL bytes from line {line} on; this is binary data or "
            "UTF-16 without a byte-order mark, not UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{path}: encoding problem: byte 0x{data[exc.start]:02x} at line {line} is not "
            "UTF-8 (Latin-1/Windows-1252 or binary?); save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text, ignoring brackets inside strings (an upper bound
    for invalid JSON, which the parser refuses anyway)."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(text: str, path: Path | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON with bounded depth, literal numbers and duplicated keys marked."""
    depth = json_depth(text)
    if depth > max_depth:
        raise InputFileError(f"{path}: JSON nested {depth} deep; at most {max_depth} is accepted")
    try:
        return json.loads(
            text,
            parse_int=JsonNumber,
            parse_float=JsonFloat,
            parse_constant=JsonFloat,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:  # cannot happen below max_depth; kept so it can never be a traceback
        raise InputFileError(f"{path}: JSON nested too deep") from None


def _object(pairs: list[tuple[str, Any]]) -> JsonObject:
    result = JsonObject()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in result and key not in duplicates:
            duplicates.append(key)
        result[key] = value
    result.duplicates = tuple(duplicates)
    return result


def csv_rows(text: str, path: Path | str) -> list[tuple[int, list[str]]]:
    """(first line, fields) of each non-blank CSV row; a malformed row names its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    with _csv_field_limit(len(text) + 1):
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return rows
            except csv.Error as exc:
                raise InputFileError(f"{path}: line {start}: CSV error: {exc}") from None
            if row:
                rows.append((start, row))


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Fields as long as the (bounded) file, so length is judged per field, not by csv."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, limit))
    try:
        yield
    finally:
        csv.field_size_limit(previous)
