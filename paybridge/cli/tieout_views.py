"""Chain tie-out rows as people read them: each amount in the token's units with its symbol
beside the base units the engine compares (``expected``/``actual``/``difference`` stay base
units, as in the engine's ``tie_outs.csv``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.cli.display import Token, TokenBook
from paybridge.config import PayBridgeConfig
from paybridge.store.models.chain import ChainReceipt


def _receipt_symbols(eng: Engine, keys: list[tuple[int, str, str]]) -> dict[tuple, str]:
    """(chain id, tx hash, event key) -> the asset symbol the watcher recorded."""
    if not keys:
        return {}
    with Session(eng) as session:
        found = session.execute(
            sa.select(
                ChainReceipt.chain_id,
                ChainReceipt.tx_hash,
                ChainReceipt.event_key,
                ChainReceipt.asset_symbol,
            ).where(ChainReceipt.tx_hash.in_({tx for _c, tx, _e in keys}))
        ).all()
    return {(c, tx.lower(), e): symbol for c, tx, e, symbol in found}


def chain_rows(
    records: list[dict[str, Any]], cfg: PayBridgeConfig, eng: Engine
) -> list[dict[str, Any]]:
    """Each row gains ``subject`` (the address, or the transfer), ``asset_symbol`` and
    ``*_display``. Balance rows are keyed ``chain:address:asset@block``; UNACCOUNTED rows
    ``chain:tx:event_key``."""
    book = TokenBook(cfg)
    transfers = [
        (int(c), tx, e)
        for c, tx, e in (str(r["key"]).split(":", 2) for r in records if "@" not in r["key"])
    ]
    symbols = _receipt_symbols(eng, transfers)
    views = []
    for record in records:
        key = str(record["key"])
        if "@" in key:
            chain_id, address, asset = key.split("@")[0].split(":")
            subject, token = address, book.get(int(chain_id), asset)
        else:
            chain_id, tx_hash, event_key = key.split(":", 2)
            subject = f"{tx_hash} {event_key}"
            symbol = symbols.get((int(chain_id), tx_hash.lower(), event_key))
            asset = symbol or "unknown"
            token = book.get(int(chain_id), symbol) if symbol else None
        views.append(
            {
                **record,
                "subject": subject,
                "asset_symbol": token.symbol if token else None,
                **{
                    f"{name}_display": _show(record[name], token, asset)
                    for name in ("expected", "actual", "difference")
                },
            }
        )
    return views


def _show(value: object, token: Token | None, asset: str) -> str:
    text = str(value).strip()
    if not text:
        return ""
    if token is None:
        return f"{text} base units of {asset}"
    return token.show(int(text))


AMOUNT_COLUMNS = ("expected", "actual", "difference")


def erp_rows(records: list[dict[str, Any]], eng: Engine) -> list[dict[str, Any]]:
    """ERP tie-out rows with ``*_display`` amounts in the settlement's invoice currency (the
    ERP compares amounts of that currency; the key is the settlement id)."""
    from paybridge.domain.amounts import format_fiat
    from paybridge.domain.money import MoneyError
    from paybridge.store.models.outbox import SettlementOutboxRow

    keys = [str(r["key"]) for r in records]
    with Session(eng) as session:
        currency = dict(
            session.execute(
                sa.select(SettlementOutboxRow.settlement_id, SettlementOutboxRow.currency).where(
                    SettlementOutboxRow.settlement_id.in_(keys)
                )
            ).all()
        )

    def show(value: object, code: str | None) -> str:
        text = str(value or "")
        if not text or code is None:
            return text
        try:
            return format_fiat(text, code)
        except (MoneyError, ArithmeticError, ValueError):
            return text

    views = []
    for record in records:
        code = currency.get(str(record["key"]))
        views.append(
            record
            | {
                f"{c}_display": show(record.get(c), code)
                for c in ("expected", "actual", "difference")
            }
        )
    return views
