"""S/4HANA journal entry: one ``JournalEntryCreateRequestConfirmation_In`` call per settlement.

SAP has no upsert; what makes this exactly once is the look-up by reference (the document's
``DocumentReferenceID``) before every re-send of a request whose answer was lost.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from paybridge.domain.settlements import Settlement
from paybridge_connectors.erp.protocol import ErpRejectedError, ErpUnavailableError
from paybridge_connectors.erp.sap.amounts import SOAP_AMOUNT_DECIMALS, SOAP_AMOUNT_DIGITS, external
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.gateway import SapGateway, Transient
from paybridge_connectors.erp.sap.posting import PlannedPosting
from paybridge_connectors.erp.sap.soap import (
    CREATE_ACTION,
    CREATE_PATH,
    JournalHeader,
    journal_entry_request,
    parse_confirmation,
)


class S4Poster(Protocol):
    """What posting needs of the S/4 connector: settings, gateway, look-up by reference."""

    config: SapConnectionConfig
    gateway: SapGateway

    def our_items(self, reference: str) -> list[Any]: ...


def post_journal_entry(
    connector: S4Poster, settlement: Settlement, plan: PlannedPosting
) -> list[Any]:
    """Post the settlement's one journal entry; returns our customer items read back.

    A transport failure may come after SAP committed, so before each new attempt the cube is
    asked for the document's reference: found means posted (exactly once), not found means
    send again. A confirmation with errors is a business refusal (``ErpRejectedError``)."""
    sid = settlement.settlement_id
    for line in plan.lines:
        external(
            line.amount.copy_abs(),
            settlement.currency,
            connector.config.currency_decimals,
            digits=SOAP_AMOUNT_DIGITS,
            field_decimals=SOAP_AMOUNT_DECIMALS,
        )
    body = journal_entry_request(
        JournalHeader(
            company_code=settlement.company,
            document_type=connector.config.payment_document_type,
            reference=plan.reference,
            header_text=plan.header_text,
            created_by=connector.config.sap_user,
            posting_date=plan.posting_date,
            currency=settlement.currency,
            translation_date=plan.posting_date,
            exchange_rate=plan.exchange_rate,
        ),
        plan.lines,
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": CREATE_ACTION}
    for attempt in range(1, connector.config.max_attempts + 1):
        try:
            response = connector.gateway.send(
                "POST",
                CREATE_PATH,
                what=f"journal entry for {sid}",
                data=body,
                headers=headers,
                write=True,
                soap=True,
            )
            break
        except Transient as exc:
            # The answer may be lost after SAP committed: look before posting again.
            time.sleep(
                min(connector.config.backoff_max_s, connector.config.backoff_initial_s * 2**attempt)
            )
            found = connector.our_items(plan.reference)
            if found:
                return found
            if attempt == connector.config.max_attempts:
                raise ErpUnavailableError(f"SAP journal entry for {sid}: {exc}") from exc
    confirmation = parse_confirmation(response.content)
    if not confirmation.ok:
        raise ErpRejectedError(
            f"settlement {sid}: SAP refused the journal entry in company code "
            f"{settlement.company}: {' | '.join(confirmation.notes) or 'no message'}",
            "JOURNAL_ENTRY",
            "JournalEntry",
        )
    rows = connector.our_items(plan.reference)
    if not rows:
        raise ErpUnavailableError(
            f"SAP confirmed document {confirmation.accounting_document} for settlement {sid} "
            "but it cannot be read back yet; the next attempt finds it by reference"
        )
    return rows
