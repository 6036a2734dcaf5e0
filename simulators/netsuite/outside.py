"""What happens in NetSuite without PayBridge, for tests: a cheque, a void, a credit memo.

A mixin of ``Account``. Each changes the invoice the way NetSuite's UI would, posts (or reverses)
the GL impact and bumps the invoice's ``lastmodifieddate`` so an incremental sync sees it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from simulators.netsuite.errors import RecordError
from simulators.netsuite.postings import (
    INVOICE_OPEN,
    INVOICE_PAID_IN_FULL,
    INVOICE_VOIDED,
    now,
)


class OutsideEventsMixin:
    """Test helpers; expects ``Account``'s attributes and the other mixins."""

    transactions: dict[int, dict[str, Any]]
    gl: dict[int, list[dict[str, Any]]]
    lock: Any

    def _new_id(self) -> int: ...
    def _touch(self) -> None: ...
    def create(self, record_type: str, body: dict[str, Any], **kw: Any) -> int: ...
    def post_gl(self, transaction_id: int, lines: list[dict[str, Any]]) -> None: ...
    def gl_line(self, row: dict[str, Any], account: int, *args: Any, **kw: Any) -> dict: ...
    def period_for(self, *args: Any, **kwargs: Any) -> int | None: ...

    def _invoice(self, invoice_id: int) -> dict[str, Any]:
        row = self.transactions.get(invoice_id)
        if row is None or row["type"] != "CustInvc":
            raise KeyError(f"no invoice {invoice_id}")
        return row

    def pay_invoice_outside(
        self, invoice_id: int, amount: Decimal | None = None, tran_date: date | None = None
    ) -> int:
        """A cheque entered by an A/R clerk: a customer payment to Undeposited Funds."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            paid = invoice["foreignamountunpaid"] if amount is None else amount
            body: dict[str, Any] = {
                "customer": {"id": str(invoice["entity"])},
                "currency": {"id": str(invoice["currency"])},
                "payment": paid,
                "arAcct": {"id": str(invoice["aracct"])},
                "memo": "Cheque received",
                "apply": {
                    "items": [{"doc": {"id": str(invoice_id)}, "apply": True, "amount": paid}]
                },
            }
            if invoice.get("exchangerate") not in (None, Decimal(1)):
                body["exchangeRate"] = invoice["exchangerate"]
            if tran_date is not None:
                body["tranDate"] = tran_date.isoformat()
            return self.create("customerPayment", body)

    def void_invoice(self, invoice_id: int) -> None:
        """A direct void (no reversing journal): total and GL impact go to zero, status Voided."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            if invoice["foreignamountpaid"] != 0:
                raise RecordError(
                    400,
                    "USER_ERROR",
                    f"Invoice {invoice_id} has payments or credits applied; unapply them before "
                    "voiding it.",
                )
            self.period_for(invoice["trandate"], "CustInvc")
            invoice.update(
                status=INVOICE_VOIDED, voided="T", posting="F", foreignamountunpaid=Decimal(0),
                foreigntotal=Decimal(0), lastmodifieddate=now(),
            )  # fmt: skip
            self.post_gl(invoice_id, [])
            self._touch()

    def credit_invoice(self, invoice_id: int, amount: Decimal | None = None) -> int:
        """A credit memo (Dr Sales / Cr A/R) applied to the invoice."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            credit = invoice["foreignamountunpaid"] if amount is None else amount
            if credit <= 0 or credit > invoice["foreignamountunpaid"]:
                raise RecordError(
                    400, "USER_ERROR", f"Cannot credit {credit} on invoice {invoice_id}."
                )
            stamp = now()
            cid = self._new_id()
            row = {
                "id": cid, "type": "CustCred", "tranid": f"CM{cid}", "entity": invoice["entity"],
                "currency": invoice["currency"], "subsidiary": invoice["subsidiary"],
                "exchangerate": invoice.get("exchangerate") or Decimal(1),
                "trandate": stamp.date(), "foreigntotal": credit, "aracct": invoice["aracct"],
                "status": "B", "externalid": None, "posting": "T", "voided": "F",
                "lastmodifieddate": stamp, "createdfrom": invoice_id,
                "foreignamountunpaid": Decimal(0),
            }  # fmt: skip
            row["postingperiod"] = self.period_for(row["trandate"], "CustCred")
            self.transactions[cid] = row
            self.post_gl(
                cid,
                [
                    self.gl_line(row, invoice["aracct"], Decimal(0), credit, entity=row["entity"]),
                    self.gl_line(row, invoice["income"], credit),
                ],
            )
            self.credit_applications.setdefault(cid, []).append(  # type: ignore[attr-defined]
                {"doc": cid, "amount": credit}
            )
            invoice["foreignamountunpaid"] -= credit
            invoice["foreignamountpaid"] += credit
            invoice["status"] = (
                INVOICE_PAID_IN_FULL if invoice["foreignamountunpaid"] == 0 else INVOICE_OPEN
            )
            invoice["lastmodifieddate"] = stamp
            self._touch()
            return cid
