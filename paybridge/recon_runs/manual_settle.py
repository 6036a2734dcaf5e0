"""Settlements a person decided (an approved exception resolution), valued like automatic ones.

* apply: receipt units X (plus what the engine already applied to the request, A) settle the
  request: payment = value of A + X at the request's locked quote (what the customer is
  credited), applied up to the invoice amount, any excess left unapplied on the payment (the
  customer's credit in A/R).
* write-off of an underpayment: payment = value(A) at the quote, the rest of the invoice
  written off with the approver's reason code, as a credit applied to the invoice.

The digital asset is booked at fair value at each receipt's block time (the latest quote for
the same chain, asset and currency at or before it: the engine's rate rule for store runs), the
difference to the payment is the settlement gain or loss, and the documents are dated by the
last receipt's block, exactly as automatic settlements are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.domain.money import base_units_to_fiat, currency_exponent, to_minor_units
from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement, WriteOff
from paybridge.store.models import PaymentRequest


@dataclass(frozen=True)
class ReceivedPart:
    """Units of one transfer settled by the resolution, and when its block was mined."""

    transfer: str  # "<tx hash>:<event key>"
    units: int
    block_time: datetime


def value_at_quote(request: PaymentRequest, units: int) -> Decimal:
    """Invoice-currency value of ``units`` at the request's locked quote (half-even, exact)."""
    exponent = currency_exponent(request.currency)
    numerator = units * to_minor_units(request.invoice_amount, request.currency)
    quotient, remainder = divmod(numerator, request.amount_due)
    twice = 2 * remainder
    if twice > request.amount_due or (twice == request.amount_due and quotient % 2):
        quotient += 1
    return Decimal(quotient).scaleb(-exponent)


def rate_at(session: Session, request: PaymentRequest, at: datetime) -> tuple[Decimal, str]:
    """The latest quote for the request's chain, asset and currency at or before ``at`` (lowest
    request id on a tie, as the store run's rates.csv), else the request's own quote."""
    row = session.execute(
        sa.select(PaymentRequest.rate_price, PaymentRequest.rate_source)
        .where(
            PaymentRequest.chain_id == request.chain_id,
            PaymentRequest.asset_address.is_(None)
            if request.asset_address is None
            else PaymentRequest.asset_address == request.asset_address,
            PaymentRequest.currency == request.currency,
            PaymentRequest.rate_as_of <= at,
            PaymentRequest.rate_price > Decimal(0),
        )
        .order_by(PaymentRequest.rate_as_of.desc(), PaymentRequest.id)
        .limit(1)
    ).first()
    if row is None:
        return request.rate_price, "quote"
    return row.rate_price, row.rate_source


def manual_settlement(
    session: Session,
    request: PaymentRequest,
    settlement_id: str,
    parts: list[ReceivedPart],
    *,
    asset_class: str,
    write_off_reason: str | None = None,
) -> Settlement:
    units = sum(p.units for p in parts)
    paid = value_at_quote(request, units)
    applied = min(paid, request.invoice_amount)
    fair_value = Decimal(0)
    rates: list[tuple[Decimal, str]] = []
    for part in parts:
        rate = rate_at(session, request, part.block_time)
        rates.append(rate)
        fair_value += base_units_to_fiat(
            part.units, rate[0], request.asset_decimals, request.currency
        )
    lines = [
        JournalLine(
            "digital_asset",
            debit=fair_value,
            memo="received at fair value at block time",
            account_key=asset_class,
        ),
        JournalLine("crypto_clearing", credit=paid, memo="clear customer payment"),
    ]
    if fair_value != paid:
        gain = fair_value - paid
        lines.append(
            JournalLine(
                "settlement_gain_loss", credit=gain, memo="settlement gain", account_key="gain"
            )
            if gain > 0
            else JournalLine(
                "settlement_gain_loss", debit=-gain, memo="settlement loss", account_key="loss"
            )
        )
    write_offs: tuple[WriteOff, ...] = ()
    short = request.invoice_amount - applied
    if write_off_reason and short > 0:
        write_offs = (WriteOff(request.invoice_id, short, write_off_reason),)
        applied = request.invoice_amount
    received_at = max(p.block_time for p in parts)
    last_rate = rates[[p.block_time for p in parts].index(received_at)]
    return Settlement(
        settlement_id=settlement_id,
        erp_system=request.erp_system,
        company=request.company,
        customer_id=request.customer_id,
        currency=request.currency,
        applications=(Application(request.invoice_id, applied),),
        payment_amount=paid,
        journal_lines=tuple(lines),
        write_offs=write_offs,
        evidence=Evidence(
            int(request.chain_id),
            tuple(sorted({p.transfer.split(":", 1)[0] for p in parts})),
            str(last_rate[0]),
            last_rate[1],
            tuple(sorted({p.transfer for p in parts})),
        ),
        value_date=received_at.date(),
        received_at=received_at,
        memo=f"PayBridge {request.id} invoice {request.invoice_id} (manual resolution)",
    )
