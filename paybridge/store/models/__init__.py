"""Every table PayBridge owns, imported so Alembic and ``Base.metadata`` see them all."""

from paybridge.store.models.chain import ChainBlock, ChainCursor, ChainReceipt  # noqa: F401
from paybridge.store.models.core import (
    AuditEntry,
    AuditHead,
    DerivationCounter,
    Invoice,
    PaymentRequest,
)
from paybridge.store.models.outbox import (  # noqa: F401
    ErpInvoiceQuarantine,
    ErpOpenInvoice,
    ErpSyncState,
    SettlementAttempt,
    SettlementOutboxRow,
)

__all__ = ["AuditEntry", "AuditHead", "DerivationCounter", "Invoice", "PaymentRequest"]
