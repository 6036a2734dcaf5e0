"""Settlements a person decided (an approved exception resolution), valued at the locked quote.

* apply: receipt units X (plus what the engine already applied to the request, A) settle the
  request: payment = value(A + X), applied up to the invoice amount, any excess unapplied
  (customer credit). Digital asset at that value, so no gain/loss is invented.
* write-off of an underpayment: payment = value(A), the rest of the invoice written off with
  the person's reason code.
Value = units x invoice amount / amount due, half-even to the currency exponent (exact ints).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from paybridge.domain.money import currency_exponent, to_minor_units
from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.store.models import PaymentRequest


def value_at_quote(request: PaymentRequest, units: int) -> Decimal:
    """Invoice-currency value of ``units`` at the request's locked quote (half-even, exact)."""
    exponent = currency_exponent(request.currency)
    numerator = units * to_minor_units(request.invoice_amount, request.currency)
    quotient, remainder = divmod(numerator, request.amount_due)
    twice = 2 * remainder
    if twice > request.amount_due or (twice == request.amount_due and quotient % 2):
        quotient += 1
    return Decimal(quotient).scaleb(-exponent)


def manual_settlement(  # transfers: "<tx hash>:<event key>" of each receipt settled
    request: PaymentRequest,
    settlement_id: str,
    units: int,
    transfers: tuple[str, ...],
    *,
    write_off_reason: str | None = None,
) -> Settlement:
    value = value_at_quote(request, units)
    applied = min(value, request.invoice_amount)
    lines = [
        JournalLine("digital_asset", debit=value, memo="received, valued at the locked quote"),
        JournalLine("crypto_clearing", credit=value, memo="clear customer payment"),
    ]
    short = request.invoice_amount - applied
    if write_off_reason and short > 0:
        lines += [
            JournalLine("write_off", debit=short, memo=f"written off: {write_off_reason}"),
            JournalLine("ar", credit=short, memo="approved write-off"),
        ]
    return Settlement(
        settlement_id=settlement_id,
        erp_system=request.erp_system,
        company=request.company,
        customer_id=request.customer_id,
        currency=request.currency,
        applications=(Application(request.invoice_id, applied),),
        payment_amount=value,
        journal_lines=tuple(lines),
        evidence=Evidence(
            int(request.chain_id),
            tuple(sorted({t.split(":", 1)[0] for t in transfers})),
            str(request.rate_price),
            "quote",
            tuple(sorted(set(transfers))),
        ),
        value_date=datetime.now(UTC).date(),
        memo=f"PayBridge {request.id} invoice {request.invoice_id} (manual resolution)",
    )
