"""Turn the engine's journals for one settled request into a postable ``Settlement``.

Engine journals (invoice currency): ``RID:payment`` Dr clearing P, Dr write-off W / Cr AR C,
Cr customer credit K; ``RID:deposit`` Dr digital asset FV / Cr clearing P, gain or loss.
Settlement: a customer payment of P applying C - W to the invoice (K stays unapplied as
customer credit), and a journal of the deposit lines plus the write-off (Dr write-off W /
Cr AR W), so clearing is credited by exactly P and every line keeps its role.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.store.models import PaymentRequest
from reconciliation.config import ReconConfig

ZERO = Decimal(0)


def settlement_id_for(request_id: str) -> str:
    """One auto settlement per request, forever: the id is derived from the request id."""
    return f"pb-{request_id}"


def account_roles(config: ReconConfig) -> dict[str, str]:
    """Engine account name -> settlement account role."""
    accounts = config.accounts
    roles = {
        accounts.accounts_receivable: "ar",
        accounts.crypto_clearing: "crypto_clearing",
        accounts.settlement_gain: "settlement_gain_loss",
        accounts.settlement_loss: "settlement_gain_loss",
        accounts.write_off: "write_off",
        accounts.customer_credit: "customer_credit",
    }
    roles.update({name: "digital_asset" for name in accounts.digital_asset.values()})
    return roles


Record = dict[str, Any]


def _total(lines: list[Record], role: str, side: str, roles: dict[str, str]) -> Decimal:
    return sum((Decimal(str(x[side])) for x in lines if roles[x["account"]] == role), ZERO)


def settlement_from_journals(
    request: PaymentRequest,
    journals: list[Record],
    matches: list[Record],
    config: ReconConfig,
    roles: dict[str, str] | None = None,
) -> Settlement:
    """``journals``/``matches``: the engine's rows of this request (auto matches only)."""
    roles = roles or account_roles(config)
    unknown = sorted({x["account"] for x in journals} - set(roles))
    if unknown:
        raise ValueError(f"request {request.id}: journal accounts {unknown} have no role")
    payment = [x for x in journals if str(x["journal_id"]).endswith(":payment")]
    deposit = [x for x in journals if str(x["journal_id"]).endswith(":deposit")]
    paid = _total(payment, "crypto_clearing", "debit", roles)
    receivable = _total(payment, "ar", "credit", roles)
    written_off = _total(payment, "write_off", "debit", roles)
    lines = [
        JournalLine(
            roles[x["account"]], Decimal(str(x["debit"])), Decimal(str(x["credit"])), x["memo"]
        )
        for x in deposit
        if Decimal(str(x["debit"])) or Decimal(str(x["credit"]))
    ]
    if written_off:
        reason = ",".join(sorted({str(x["reason_code"]) for x in payment} - {""}))
        lines += [
            JournalLine("write_off", debit=written_off, memo=f"payment difference {reason}"),
            JournalLine("ar", credit=written_off, memo="written off within tolerance"),
        ]
    first = matches[0]
    last_block_time = max(str(m["block_time"]) for m in matches)  # ISO 8601 UTC sorts as text
    return Settlement(
        settlement_id=settlement_id_for(request.id),
        erp_system=request.erp_system,
        company=request.company,
        customer_id=request.customer_id,
        currency=request.currency,
        applications=(Application(request.invoice_id, receivable - written_off),),
        payment_amount=paid,
        journal_lines=tuple(lines),
        evidence=Evidence(
            chain_id=int(request.chain_id),
            tx_hashes=tuple(sorted({str(m["tx_hash"]) for m in matches})),
            rate=str(first["rate"]) or None,
            rate_source=str(first["rate_source"]) or None,
            transfers=tuple(sorted({f"{m['tx_hash']}:{m['event_key']}" for m in matches})),
        ),
        value_date=date.fromisoformat(last_block_time[:10]),
        memo=f"PayBridge {request.id} invoice {request.invoice_id}",
    )
