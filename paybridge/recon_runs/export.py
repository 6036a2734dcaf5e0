"""Store -> the engine's input CSVs (the exact columns of ``reconciliation/README.md``).

The store run and an auditor's ``paybridge reconcile-files`` read the *same* files through the
same readers, so re-performance gives the same matches by construction (and a test checks it).
Rates are the requests' locked quotes (invoice currency per whole token), one per
(chain, asset, currency, time): the engine uses them for fair value and late re-quotes.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.files import sha256_file
from paybridge_reconciliation.inputs import RATE_COLUMNS, RECEIPT_COLUMNS, REQUEST_COLUMNS
from paybridge_reconciliation.safe_text import safe_columns
from sqlalchemy.orm import Session

from paybridge.config import PayBridgeConfig
from paybridge.domain.money import currency_exponent
from paybridge.requests.lifecycle import Status
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt

INPUT_FILES = {"requests": "requests.csv", "receipts": "receipts.csv", "rates": "rates.csv"}
MAX_RATE_DECIMALS = 18  # the engine's default rate_scale


def iso(value: datetime) -> str:
    """ISO 8601 UTC with microseconds (exact; the engine's reader accepts it)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def asset_key(token_address: str | None) -> str:
    return token_address.lower() if token_address else "native"


def with_registry_classes(config: ReconConfig, cfg: PayBridgeConfig) -> ReconConfig:
    """The engine config with each registry token's accounting class (``assets[].asset_class``)
    unless the engine config names the token itself."""
    classes = {
        asset_key(a.address): a.accounting_class for a in cfg.assets if a.address is not None
    }
    return config.model_copy(update={"asset_classes": classes | dict(config.asset_classes)})


def _decimal_text(value: Decimal, places: int) -> str:
    text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class StoreInputs:
    """The engine's inputs as text frames, ready to write as CSV."""

    requests: pd.DataFrame
    receipts: pd.DataFrame
    rates: pd.DataFrame


def load_inputs(session: Session, as_of: datetime | None = None) -> StoreInputs:
    """Requests that are not void, incoming receipts up to ``as_of``, rates from quotes."""
    query = sa.select(PaymentRequest).where(PaymentRequest.status != Status.INVALID.value)
    if as_of is not None:
        query = query.where(PaymentRequest.created_at <= as_of)
    requests = session.scalars(query.order_by(PaymentRequest.id)).all()
    receipt_query = sa.select(ChainReceipt).where(ChainReceipt.direction == "in")
    if as_of is not None:
        receipt_query = receipt_query.where(ChainReceipt.block_timestamp <= as_of)
    receipts = session.scalars(
        receipt_query.order_by(
            ChainReceipt.chain_id,
            ChainReceipt.block_number,
            ChainReceipt.tx_hash,
            ChainReceipt.event_key,
            ChainReceipt.id,
        )
    ).all()
    return StoreInputs(
        requests=pd.DataFrame(
            [_request_row(r) for r in requests], columns=REQUEST_COLUMNS, dtype="str"
        ),
        receipts=pd.DataFrame(
            [_receipt_row(r) for r in receipts], columns=RECEIPT_COLUMNS, dtype="str"
        ),
        rates=pd.DataFrame(_rate_rows(requests), columns=RATE_COLUMNS, dtype="str"),
    )


def _request_row(r: PaymentRequest) -> dict[str, str]:
    return {
        "request_id": r.id,
        "customer_id": r.customer_id,
        "invoice_id": r.invoice_id,
        "chain_id": str(r.chain_id),
        "asset": asset_key(r.asset_address),
        "deposit_address": r.deposit_address.lower(),
        "amount_due": str(r.amount_due),
        "invoice_currency": r.currency,
        "invoice_amount": format(r.invoice_amount, "f"),
        "created_at": iso(r.created_at),
        "expires_at": iso(r.quote_expires_at),
        "monitor_until": iso(r.monitor_until),
    }


def _receipt_row(r: ChainReceipt) -> dict[str, str]:
    return {
        "chain_id": str(r.chain_id),
        "tx_hash": r.tx_hash.lower(),
        "event_key": r.event_key,  # the transfer's identity inside its transaction, unchanged
        "block_number": str(r.block_number),
        "block_time": iso(r.block_timestamp),
        "asset": asset_key(r.asset_address if r.kind == "erc20" else None),
        "from_address": r.from_address.lower(),
        "to_address": r.to_address.lower(),
        "amount": str(r.amount),
        "status": r.state,
    }


def _rate_rows(requests: list[PaymentRequest]) -> list[dict[str, str]]:
    rows: dict[tuple[str, ...], dict[str, str]] = {}
    for r in requests:  # ordered by request id: the first quote at a given time wins
        currency_exponent(r.currency)  # refuses an unknown currency with a clear error
        if r.rate_price <= 0:
            continue
        row = {
            "chain_id": str(r.chain_id),
            "asset": asset_key(r.asset_address),
            "currency": r.currency,
            "valid_from": iso(r.rate_as_of),
            "rate": _decimal_text(r.rate_price, MAX_RATE_DECIMALS),
            "decimals": str(r.asset_decimals),
            "source": f"{r.rate_source}" + (f"#{r.rate_round_id}" if r.rate_round_id else ""),
        }
        rows.setdefault((row["chain_id"], row["asset"], row["currency"], row["valid_from"]), row)
    return sorted(rows.values(), key=lambda x: (x["chain_id"], x["asset"], x["valid_from"]))


def write_inputs(inputs: StoreInputs, directory: Path) -> dict[str, Path]:
    """Write requests.csv, receipts.csv, rates.csv (the engine's formats) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / file for name, file in INPUT_FILES.items()}
    for name, frame in (
        ("requests", inputs.requests),
        ("receipts", inputs.receipts),
        ("rates", inputs.rates),
    ):
        write_text_csv(frame, paths[name])
    return paths


def write_text_csv(frame: pd.DataFrame, path: Path) -> None:
    """Plain CSV (unquoted header, minimal quoting, LF): what the engine's readers expect, with
    text cells spreadsheet-safe (``paybridge_reconciliation.safe_text``; the readers recover the
    text)."""
    frame = safe_columns(frame)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        writer.writerows(frame.itertuples(index=False, name=None))


def file_hashes(paths: dict[str, Path]) -> dict[str, str]:
    return {name: sha256_file(path) for name, path in paths.items()}


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
