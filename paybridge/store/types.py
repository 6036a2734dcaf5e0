"""Column types that keep money exact on every supported database.

SQLite integers stop at 2**63-1 and SQLAlchemy's ``Numeric`` on SQLite is a float
underneath, so token base units (up to 2**256-1) and fiat decimals are stored as
canonical decimal text there, and as unconstrained ``NUMERIC`` on PostgreSQL.

Equality in SQL is exact on both databases; ordering and arithmetic are not on SQLite (text
compares as text), so filter amounts with ``<``/``>`` or sum them in Python, never in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator

from paybridge.domain.money import MAX_UINT256


class BaseUnits(TypeDecorator[int]):
    """Non-negative int up to 2**256-1 (wei, 10**-6 USDC ...), exact on SQLite and PostgreSQL."""

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"base units must be int, got {type(value).__name__}")
        if not 0 <= value <= MAX_UINT256:
            raise ValueError(f"base units out of uint256 range: {value}")
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value) if isinstance(value, str) else int(Decimal(value))


class ExactDecimal(TypeDecorator[Decimal]):
    """Fiat amounts and rates: ``Decimal`` in, the same ``Decimal`` out (no float on the way)."""

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"exact decimal must be Decimal, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"exact decimal must be finite: {value}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; PayBridge stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
