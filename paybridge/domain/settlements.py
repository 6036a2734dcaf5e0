"""A settlement: what the reconciliation engine decided, in the form an ERP can post.

What an accountant would post by hand, keyed by ``settlement_id``:

* a customer payment of ``payment_amount`` (the cash, at the invoice's value of what arrived)
  into the crypto clearing account: Dr crypto_clearing / Cr ar;
* ``write_offs``: each a credit applied to its invoice (Dr write_off, by reason code / Cr ar),
  so an invoice settled within tolerance ends paid in full. ``applications`` carry the total
  applied to each invoice (cash plus write-off credit);
* what is left of the payment after the applications (``unapplied``, an overpayment) stays on
  the customer payment as the customer's credit inside A/R (no separate liability account);
* a journal of ``journal_lines`` that moves clearing to the digital-asset account of the asset
  class at fair value, with the settlement gain or loss. When present it must credit the
  clearing account by exactly ``payment_amount``, so clearing nets to zero per settlement.

Validation happens on construction: a settlement that exists is exact, balanced and postable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from paybridge.domain.money import MoneyError, currency_exponent

ACCOUNT_ROLES = frozenset(
    {"ar", "crypto_clearing", "digital_asset", "settlement_gain_loss", "write_off"}
)
#: roles a fair-value journal line may have (A/R and write-offs belong to the payment side)
JOURNAL_ROLES = frozenset({"crypto_clearing", "digital_asset", "settlement_gain_loss"})
# NetSuite external ids: letters, digits, '_' and '-' ('|' breaks parsing); we also keep it short.
SETTLEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
ZERO = Decimal(0)
AUDIT_CHECKPOINT = re.compile(r"^pbcp1:[0-9a-zA-Z:]{1,300}$")


class SettlementError(ValueError):
    """A settlement that cannot be posted as given; names the settlement and field."""


def _exact(value: Decimal, exponent: int, what: str, settlement_id: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise SettlementError(
            f"settlement {settlement_id}: {what} must be a Decimal, got {value!r}"
        )
    if not value.is_finite() or value != value.quantize(Decimal(1).scaleb(-exponent)):
        raise SettlementError(
            f"settlement {settlement_id}: {what}={value} is not exact at {exponent} decimals"
        )
    return value


@dataclass(frozen=True)
class Application:
    """Total applied to one invoice: cash from the payment plus any write-off credit."""

    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class WriteOff:
    """A difference closed by a credit applied to the invoice (Dr write-off / Cr A/R)."""

    invoice_id: str
    amount: Decimal
    reason_code: str

    def as_row(self) -> tuple[str, str, str]:
        return self.invoice_id, str(self.amount), self.reason_code


@dataclass(frozen=True)
class JournalLine:
    account_role: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    memo: str = ""
    #: which account of the role: the asset class of ``digital_asset``, ``gain`` or ``loss`` of
    #: ``settlement_gain_loss``, the reason code of ``write_off``
    account_key: str = ""


@dataclass(frozen=True)
class Evidence:
    """Where the money came from on chain, so an auditor can walk from the ERP to the block."""

    chain_id: int
    tx_hashes: tuple[str, ...]
    rate: str | None = None
    rate_source: str | None = None
    #: each transfer settled, ``<tx hash>:<event key>`` (log:<i> | tx | trace:<path>): two
    #: transfers of one transaction are two entries
    transfers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settlement:
    settlement_id: str
    erp_system: str
    company: str
    customer_id: str
    currency: str
    applications: tuple[Application, ...]
    payment_amount: Decimal
    journal_lines: tuple[JournalLine, ...] = ()
    evidence: Evidence = field(default_factory=lambda: Evidence(0, ()))
    value_date: date | None = None
    memo: str = ""
    write_offs: tuple[WriteOff, ...] = ()
    #: block time (UTC) of the last receipt settled: the ERP dates the documents by it, in the
    #: company's time zone
    received_at: datetime | None = None
    #: invoice currency -> the company's base currency at ``received_at`` (None: the same)
    exchange_rate: Decimal | None = None
    #: the ERP's receivables account of the invoices, as read with them at sync time
    ar_account: str | None = None
    # Signed checkpoint token of the audit log when the settlement was queued (filled by the
    # application side, not the engine): the ERP keeps a copy of the log's state outside our
    # database, so an auditor can check the log against it later.
    audit_checkpoint: str | None = None

    def __post_init__(self) -> None:
        sid = self.settlement_id
        if not isinstance(sid, str) or not SETTLEMENT_ID.match(sid):
            raise SettlementError(
                f"settlement_id {sid!r}: use 1-60 letters, digits, '_' or '-' (it is the ERP "
                "external id)"
            )
        if self.audit_checkpoint is not None and not AUDIT_CHECKPOINT.match(self.audit_checkpoint):
            raise SettlementError(f"settlement {sid}: audit_checkpoint is not a checkpoint token")
        try:
            exponent = currency_exponent(self.currency)
        except MoneyError as exc:
            raise SettlementError(f"settlement {sid}: currency: {exc}") from exc
        for name in ("erp_system", "company", "customer_id"):
            if not getattr(self, name):
                raise SettlementError(f"settlement {sid}: {name} is empty")
        if not self.applications:
            raise SettlementError(f"settlement {sid}: applications is empty")
        seen: set[str] = set()
        for i, app in enumerate(self.applications):
            _exact(app.amount, exponent, f"applications[{i}].amount", sid)
            if app.amount <= 0:
                raise SettlementError(f"settlement {sid}: applications[{i}].amount must be > 0")
            if not app.invoice_id or app.invoice_id in seen:
                raise SettlementError(
                    f"settlement {sid}: applications[{i}].invoice_id empty or repeated"
                )
            seen.add(app.invoice_id)
        _exact(self.payment_amount, exponent, "payment_amount", sid)
        self._check_write_offs(exponent)
        if self.unapplied < 0:
            raise SettlementError(
                f"settlement {sid}: payment_amount {self.payment_amount} plus write-offs "
                f"{self.written_off} is below the total applied {self.applied_total}"
            )
        if self.received_at is not None and self.received_at.utcoffset() is None:
            raise SettlementError(f"settlement {sid}: received_at must carry a time zone")
        if self.exchange_rate is not None and (
            not isinstance(self.exchange_rate, Decimal)
            or not self.exchange_rate.is_finite()
            or self.exchange_rate <= 0
        ):
            raise SettlementError(f"settlement {sid}: exchange_rate must be a positive Decimal")
        self._check_journal(exponent)

    def _check_write_offs(self, exponent: int) -> None:
        sid = self.settlement_id
        applied = {a.invoice_id: a.amount for a in self.applications}
        for i, w in enumerate(self.write_offs):
            _exact(w.amount, exponent, f"write_offs[{i}].amount", sid)
            if w.amount <= 0 or not w.reason_code:
                raise SettlementError(
                    f"settlement {sid}: write_offs[{i}] needs an amount > 0 and a reason code"
                )
            if w.amount > applied.get(w.invoice_id, ZERO):
                raise SettlementError(
                    f"settlement {sid}: write_offs[{i}] writes off {w.amount} on invoice "
                    f"{w.invoice_id!r}, more than is applied to it"
                )

    def _check_journal(self, exponent: int) -> None:
        sid = self.settlement_id
        if not self.journal_lines:
            return
        for i, line in enumerate(self.journal_lines):
            if line.account_role not in JOURNAL_ROLES:
                raise SettlementError(
                    f"settlement {sid}: journal_lines[{i}].account_role {line.account_role!r} "
                    f"is not one of {sorted(JOURNAL_ROLES)}"
                )
            _exact(line.debit, exponent, f"journal_lines[{i}].debit", sid)
            _exact(line.credit, exponent, f"journal_lines[{i}].credit", sid)
            if line.debit < 0 or line.credit < 0 or (line.debit == 0) == (line.credit == 0):
                raise SettlementError(
                    f"settlement {sid}: journal_lines[{i}] needs exactly one positive side"
                )
        debits = sum((x.debit for x in self.journal_lines), ZERO)
        credits = sum((x.credit for x in self.journal_lines), ZERO)
        if debits != credits:
            raise SettlementError(
                f"settlement {sid}: journal does not balance (debits {debits}, credits {credits})"
            )
        clearing = sum(
            (x.credit - x.debit for x in self.journal_lines if x.account_role == "crypto_clearing"),
            ZERO,
        )
        if clearing != self.payment_amount:
            raise SettlementError(
                f"settlement {sid}: journal credits crypto_clearing {clearing}, expected the "
                f"payment amount {self.payment_amount} so that clearing nets to zero"
            )

    @property
    def applied_total(self) -> Decimal:
        return sum((a.amount for a in self.applications), ZERO)

    @property
    def written_off(self) -> Decimal:
        return sum((w.amount for w in self.write_offs), ZERO)

    @property
    def unapplied(self) -> Decimal:
        """Overpayment left on the payment: the customer's credit inside A/R."""
        return self.payment_amount + self.written_off - self.applied_total

    def full_journal(self) -> tuple[JournalLine, ...]:
        """Every document as one balanced journal (for reports, tie-outs, trial balances)."""
        lines = [
            JournalLine("crypto_clearing", debit=self.payment_amount, memo="customer payment"),
            *(
                JournalLine(
                    "write_off", debit=w.amount, memo="write-off", account_key=w.reason_code
                )
                for w in self.write_offs
            ),
            JournalLine("ar", credit=self.applied_total, memo="invoices applied"),
        ]
        if self.unapplied:
            lines.append(
                JournalLine("ar", credit=self.unapplied, memo="unapplied: customer credit in A/R")
            )
        return (*lines, *self.journal_lines)

    # ---------------------------------------------------------------- serialisation
    def to_json(self) -> dict[str, Any]:
        """Plain JSON (Decimals as strings): the outbox payload and the audit record."""
        return {
            "settlement_id": self.settlement_id,
            "erp_system": self.erp_system,
            "company": self.company,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "applications": [[a.invoice_id, str(a.amount)] for a in self.applications],
            "payment_amount": str(self.payment_amount),
            "journal_lines": [
                [x.account_role, str(x.debit), str(x.credit), x.memo]
                + ([x.account_key] if x.account_key else [])
                for x in self.journal_lines
            ],
            "evidence": {
                "chain_id": self.evidence.chain_id,
                "tx_hashes": list(self.evidence.tx_hashes),
                "rate": self.evidence.rate,
                "rate_source": self.evidence.rate_source,
            }
            | ({"transfers": list(self.evidence.transfers)} if self.evidence.transfers else {}),
            "value_date": self.value_date.isoformat() if self.value_date else None,
            "memo": self.memo,
            **({"audit_checkpoint": self.audit_checkpoint} if self.audit_checkpoint else {}),
            **(
                {
                    "write_offs": [
                        [w.invoice_id, str(w.amount), w.reason_code] for w in self.write_offs
                    ]
                }
                if self.write_offs
                else {}
            ),
            **({"received_at": self.received_at.isoformat()} if self.received_at else {}),
            **({"exchange_rate": str(self.exchange_rate)} if self.exchange_rate else {}),
            **({"ar_account": self.ar_account} if self.ar_account else {}),
        }

    def canonical_json(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settlement:
        evidence = data.get("evidence") or {}
        applications = [(i, Decimal(a)) for i, a in data["applications"]]
        lines = [
            JournalLine(line[0], Decimal(line[1]), Decimal(line[2]), line[3], *line[4:])
            for line in data.get("journal_lines", [])
        ]
        write_offs = [WriteOff(i, Decimal(a), r) for i, a, r in data.get("write_offs", [])]
        if any(x.account_role in ("write_off", "ar") for x in lines):  # queued before 0.7
            lines, applications, write_offs = _legacy_write_offs(lines, applications)
        received_at = data.get("received_at")
        rate = data.get("exchange_rate")
        return cls(
            settlement_id=data["settlement_id"],
            erp_system=data["erp_system"],
            company=data["company"],
            customer_id=data["customer_id"],
            currency=data["currency"],
            applications=tuple(Application(i, a) for i, a in applications),
            payment_amount=Decimal(data["payment_amount"]),
            journal_lines=tuple(lines),
            write_offs=tuple(write_offs),
            received_at=datetime.fromisoformat(received_at).astimezone(UTC)
            if received_at
            else None,
            exchange_rate=Decimal(rate) if rate else None,
            ar_account=data.get("ar_account"),
            evidence=Evidence(
                int(evidence.get("chain_id", 0)),
                tuple(evidence.get("tx_hashes", ())),
                evidence.get("rate"),
                evidence.get("rate_source"),
                tuple(evidence.get("transfers", ())),
            ),
            value_date=date.fromisoformat(data["value_date"]) if data.get("value_date") else None,
            memo=data.get("memo", ""),
            audit_checkpoint=data.get("audit_checkpoint"),
        )


def _legacy_write_offs(
    lines: list[JournalLine], applications: list[tuple[str, Decimal]]
) -> tuple[list[JournalLine], list[tuple[str, Decimal]], list[WriteOff]]:
    """A payload queued before write-offs were credits applied to the invoice: its journal
    carried Dr write_off / Cr ar and its single application the cash only."""
    written = [x for x in lines if x.account_role == "write_off"]
    total = sum((x.debit for x in written), ZERO)
    reason = written[0].memo.rsplit(" ", 1)[-1] if written else "PAYMENT_DIFFERENCE"
    (invoice, cash), *rest = applications
    kept = [x for x in lines if x.account_role not in ("write_off", "ar")]
    return kept, [(invoice, cash + total), *rest], [WriteOff(invoice, total, reason or "-")]
