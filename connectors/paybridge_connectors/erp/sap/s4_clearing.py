"""S/4HANA clearing: the invoice item against our customer items, by document key.

``JournalEntryBulkClearingRequest_In`` is asynchronous and has no response, so the result is
read back: the invoice item must show ``IsCleared`` and a ``ClearingAccountingDocument``. When
it does not within ``clearing_checks`` reads, the request is sent once more (clearing an item
twice is refused by SAP, so a late first request does no harm); then the settlement goes to
needs_attention with what to check.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import ErpRejectedError
from paybridge_connectors.erp.sap import openitems as oi
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import SapGateway
from paybridge_connectors.erp.sap.posting import PlannedPosting, settlement_id_from_text
from paybridge_connectors.erp.sap.soap import (
    CLEARING_ACTION,
    CLEARING_PATH,
    DocumentKey,
    clearing_request,
)


class S4Reader(Protocol):
    """What clearing needs of the S/4 connector: its settings, gateway and item look-up."""

    config: SapConnectionConfig
    gateway: SapGateway

    def item(self, key: DocumentKey) -> Any | None: ...


def clear_invoices(
    connector: S4Reader, settlement: Settlement, plan: PlannedPosting, ours: list[Any]
) -> None:
    """Clear each fully settled invoice item against our customer items for it."""
    invoices = plan.clearable_invoices()
    if not invoices:
        return
    by_assignment: dict[str, list[Any]] = {}
    for row in ours:  # applied and written-off items; an unapplied credit stays open
        kind = settlement_id_from_text(str(oi.value(row, "DocumentItemText") or ""))[1]
        if kind in ("applied", "write_off"):
            assignment = str(oi.value(row, "AssignmentReference") or "")
            by_assignment.setdefault(assignment, []).append(row)
    keys: list[DocumentKey] = []
    pending: list[DocumentKey] = []
    for invoice_id, assignment in invoices.items():
        parts = oi.parse_invoice_id(invoice_id)
        assert parts is not None  # checked by plan_posting
        invoice_key = DocumentKey(settlement.company, *parts)
        invoice_row = connector.item(invoice_key)
        if invoice_row is not None and oi.value(invoice_row, "IsCleared"):
            continue
        mine = [
            DocumentKey(
                str(oi.value(r, "CompanyCode")),
                str(oi.value(r, "FiscalYear")),
                str(oi.value(r, "AccountingDocument")),
                str(oi.value(r, "AccountingDocumentItem")),
            )
            for r in by_assignment.get(assignment, [])
            if not oi.value(r, "IsCleared")
        ]
        keys += [invoice_key, *mine]
        pending.append(invoice_key)
    if not pending:
        return
    body = clearing_request(
        settlement.company,
        connector.config.clearing_document_type,
        plan.posting_date,
        settlement.currency,
        settlement.customer_id,
        keys,
        connector.config.sap_user,
        f"PBC {plan.reference}",  # not "PB:": a clearing is not our payment
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": CLEARING_ACTION}
    for round_ in (1, 2):  # send, confirm; once more if SAP did not apply it
        connector.gateway.retrying(
            lambda: connector.gateway.send(
                "POST",
                CLEARING_PATH,
                what=f"clearing for {settlement.settlement_id}",
                data=body,
                headers=headers,
                write=True,
                soap=True,
            ),
            "clearing request",
        )
        for _ in range(connector.config.clearing_checks):
            time.sleep(connector.config.clearing_check_interval_s)
            rows = [connector.item(k) for k in pending]
            if all(
                r is not None
                and oi.value(r, "IsCleared")
                and oi.value(r, "ClearingAccountingDocument")
                for r in rows
            ):
                return
        if round_ == 2:
            break
    open_ids = ", ".join(k.invoice_id for k in pending)
    raise ErpRejectedError(
        f"settlement {settlement.settlement_id} is posted (reference {plan.reference}) but SAP "
        f"did not confirm clearing invoice item(s) {open_ids} after two clearing requests; "
        "check the clearing in SAP (Clear Open Items / F-32), then requeue: re-posting is safe",
        "CLEARING_NOT_CONFIRMED",
        "IsCleared",
    )
