"""Turn the engine's journals for one settled request into a postable ``Settlement``.

Engine journals (invoice currency): ``RID:payment`` Dr clearing P, Dr write-off W / Cr AR C,
Cr AR K (overpayment left unapplied); ``RID:deposit`` Dr digital asset FV / Cr clearing P,
gain or loss. Settlement: a customer payment of P, a write-off credit W (the tolerance
group's account and reason code) applied with it, so the invoice is applied C in full; K stays
unapplied on the payment; a journal of the deposit lines, each keeping its role and account key
(asset class, gain or loss), crediting clearing by exactly P.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from paybridge_reconciliation.config import ReconConfig

from paybridge.domain.settlements import (
    Application,
    Evidence,
    JournalLine,
    Settlement,
    WriteOff,
)
from paybridge.store.models import PaymentRequest

ZERO = Decimal(0)
#: (settlement account role, account key); a key of ``None`` is read from the line itself
Role = tuple[str, str | None]


def settlement_id_for(request_id: str) -> str:
    """One auto settlement per request, forever: the id is derived from the request id."""
    return f"pb-{request_id}"


def account_roles(config: ReconConfig) -> dict[str, Role]:
    """Engine account name -> (settlement account role, account key)."""
    accounts = config.accounts
    roles: dict[str, Role] = {
        accounts.accounts_receivable: ("ar", ""),
        accounts.crypto_clearing: ("crypto_clearing", ""),
        accounts.settlement_gain: ("settlement_gain_loss", None),
        accounts.settlement_loss: ("settlement_gain_loss", None),
        accounts.write_off: ("write_off", None),
    }
    for group in config.tolerance_groups.values():
        if group.write_off_account:
            roles[group.write_off_account] = ("write_off", None)
    roles.update({name: ("digital_asset", cls) for cls, name in accounts.digital_asset.items()})
    return roles


Record = dict[str, Any]


def _amount(line: Record, side: str) -> Decimal:
    return Decimal(str(line[side]))


def _total(lines: list[Record], role: str, side: str, roles: dict[str, Role]) -> Decimal:
    return sum((_amount(x, side) for x in lines if roles[x["account"]][0] == role), ZERO)


def _journal_line(line: Record, role: Role) -> JournalLine:
    debit, credit = _amount(line, "debit"), _amount(line, "credit")
    name, key = role
    if name == "settlement_gain_loss":
        key = "gain" if credit else "loss"
    return JournalLine(name, debit, credit, str(line["memo"]), key or "")


def settlement_from_journals(
    request: PaymentRequest,
    journals: list[Record],
    matches: list[Record],
    config: ReconConfig,
    roles: dict[str, Role] | None = None,
) -> Settlement:
    """``journals``/``matches``: the engine's rows of this request (auto matches only)."""
    roles = roles or account_roles(config)
    unknown = sorted({x["account"] for x in journals} - set(roles))
    if unknown:
        raise ValueError(f"request {request.id}: journal accounts {unknown} have no role")
    payment = [x for x in journals if str(x["journal_id"]).endswith(":payment")]
    deposit = [x for x in journals if str(x["journal_id"]).endswith(":deposit")]
    paid = _total(payment, "crypto_clearing", "debit", roles)
    receivable = _total(payment, "ar", "credit", roles)  # invoice applied + unapplied
    write_offs = tuple(
        WriteOff(request.invoice_id, _amount(x, "debit"), str(x["reason_code"]))
        for x in payment
        if roles[x["account"]][0] == "write_off" and _amount(x, "debit")
    )
    lines = [
        _journal_line(x, roles[x["account"]])
        for x in deposit
        if _amount(x, "debit") or _amount(x, "credit")
    ]
    first = matches[0]
    last_block_time = max(str(m["block_time"]) for m in matches)  # ISO 8601 UTC sorts as text
    received_at = datetime.fromisoformat(last_block_time.replace("Z", "+00:00"))
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return Settlement(
        settlement_id=settlement_id_for(request.id),
        erp_system=request.erp_system,
        company=request.company,
        customer_id=request.customer_id,
        currency=request.currency,
        applications=(Application(request.invoice_id, min(receivable, request.invoice_amount)),),
        payment_amount=paid,
        journal_lines=tuple(lines),
        write_offs=write_offs,
        evidence=Evidence(
            chain_id=int(request.chain_id),
            tx_hashes=tuple(sorted({str(m["tx_hash"]) for m in matches})),
            rate=str(first["rate"]) or None,
            rate_source=str(first["rate_source"]) or None,
            transfers=tuple(sorted({f"{m['tx_hash']}:{m['event_key']}" for m in matches})),
        ),
        value_date=date.fromisoformat(last_block_time[:10]),
        received_at=received_at.astimezone(UTC),
        memo=f"PayBridge {request.id} invoice {request.invoice_id}",
    )
