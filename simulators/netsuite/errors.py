"""NetSuite's REST error shapes and the small parsers every record writer shares."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any


class RecordError(Exception):
    """A request NetSuite would refuse; rendered as ``o:errorDetails``."""

    def __init__(
        self, status: int, code: str, detail: str, path: str | None = None, title: str = ""
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.title = title or {
            400: "Bad Request",
            403: "Forbidden",
            404: "Record not found",
        }.get(status, "Error")


def invalid_value(value: Any, path: str) -> RecordError:
    """Oracle's documented answer to a reference outside the field's options (INVALID_CONTENT)."""
    field = path.rsplit(".", 1)[-1]
    return RecordError(
        400,
        "INVALID_CONTENT",
        f"Error while accessing resource: You have entered an Invalid Field Value {value} for "
        f"the following field: {field}",
        path,
    )


def missing_value(label: str, path: str) -> RecordError:
    return RecordError(400, "USER_ERROR", f"Please enter value(s) for: {label}", path)


def ref_id(body: dict[str, Any], name: str, path: str | None = None) -> int:
    value = body.get(name)
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        raise missing_value(name, path or name)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(
            400, "INVALID_FLD_VALUE", f"Invalid value {value!r} for {name}", path or name
        ) from exc


def amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}: {value!r}", name)
    try:
        parsed = Decimal(value)
    except ArithmeticError as exc:
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}", name) from exc
    if not parsed.is_finite():
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid number for {name}", name)
    return parsed


def flag(value: Any, name: str) -> bool:
    """A checkbox: JSON boolean, or the ``{"id": "T"|"F"}`` select form of the REST schema."""
    if isinstance(value, dict):
        value = {"T": True, "F": False}.get(str(value.get("id")).upper(), value)
    if not isinstance(value, bool):
        raise RecordError(400, "INVALID_FLD_VALUE", f"Invalid value {value!r} for {name}", name)
    return value


def tran_date(value: Any, name: str = "tranDate") -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise RecordError(
            400, "INVALID_FLD_VALUE", f"Invalid date {value!r} for {name} (YYYY-MM-DD)", name
        ) from exc
