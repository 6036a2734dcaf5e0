"""What one field of an input record may hold: text, plain decimal amounts, calendar dates.

Each rule raises :class:`FieldProblem` with a message that quotes at most a short excerpt of
the value (a 128 KB field is not repeated back). Values come from CSV (always ``str``) or from
JSON via :mod:`paybridge.input_files` (strings, literal numbers, objects, lists, booleans).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from paybridge.input_files import JsonFloat, JsonNumber

#: Amounts: ASCII digits, an optional '-' and one '.'; no exponent, separators or other digits.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
#: Most digits accepted before the decimal point (a quadrillion is not an invoice).
MAX_INTEGER_DIGITS = 18
MAX_AMOUNT_CHARS = 40
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXCERPT = 40


class FieldProblem(ValueError):
    """This field's value is refused; the message says why."""


def excerpt(value: str) -> str:
    """A short, quoted, escaped form of a value for messages."""
    if len(value) > _EXCERPT:
        return repr(value[:_EXCERPT]) + f"... ({len(value)} characters)"
    return repr(value)


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON list"
    if isinstance(value, JsonFloat):
        return "a JSON number with a fraction or exponent"
    if not isinstance(value, str):
        return type(value).__name__
    return None


def text(value: Any, max_length: int) -> str:
    """Printable text of at most ``max_length`` characters, surrounding blanks removed.

    ``None`` is the empty string (missing); an integer JSON number counts as the digits
    written; objects, lists, booleans and fractional numbers are refused, never stringified.
    """
    if value is None:
        return ""
    kind = _kind(value)
    if kind:
        raise FieldProblem(f"must be text, not {kind}")
    result = str(value).strip()
    if len(result) > max_length:
        raise FieldProblem(f"too long: {len(result)} characters, at most {max_length}")
    for position, char in enumerate(result, start=1):
        if not char.isprintable():
            name = unicodedata.name(char, "control character")
            raise FieldProblem(
                f"contains U+{ord(char):04X} ({name}) at character {position}; "
                "only printable characters are accepted"
            )
    return result


def plain_decimal(value: Any) -> str:
    """An amount's text in plain decimal notation (``1250.00``, ``-4``), or FieldProblem."""
    if isinstance(value, JsonFloat):
        raise FieldProblem("write amounts as strings in JSON, floats are not exact")
    kind = _kind(value)
    if kind:
        raise FieldProblem(f"must be a decimal number written as text, not {kind}")
    result = str(value).strip()
    if len(result) > MAX_AMOUNT_CHARS or not _PLAIN_DECIMAL.fullmatch(result):
        raise FieldProblem(
            f"{excerpt(result)} is not a plain decimal number (ASCII digits with an optional "
            "'-' and '.'; no exponent, digit separators or other digits)"
        )
    digits = len(result.lstrip("-").split(".")[0].lstrip("0"))
    if digits > MAX_INTEGER_DIGITS:
        raise FieldProblem(f"too large: {digits} digits before the decimal point")
    return result


def iso_date(value: Any) -> date | None:
    """An ISO 8601 calendar date ``YYYY-MM-DD``; empty is None. Basic (``20261215``) and week
    (``2026-W01-1``) forms are refused: they are easy to misread."""
    if value is None:
        return None
    kind = _kind(value) or ("a JSON number" if isinstance(value, JsonNumber) else None)
    if kind:
        raise FieldProblem(f"must be a date written as text (YYYY-MM-DD), not {kind}")
    result = str(value).strip()
    if not result:
        return None
    if not _ISO_DATE.fullmatch(result):
        raise FieldProblem(f"{excerpt(result)} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(result)
    except ValueError:
        raise FieldProblem(f"{excerpt(result)} is not a calendar date") from None
