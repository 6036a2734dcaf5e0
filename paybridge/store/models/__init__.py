"""Every table PayBridge owns, imported so Alembic and ``Base.metadata`` see them all."""

from paybridge.store.models.api import (
    ApiKey,
    ApiOrder,
    IdempotencyKey,
    PaymentNotification,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from paybridge.store.models.chain import ChainBlock, ChainCursor, ChainReceipt
from paybridge.store.models.core import (
    AuditEntry,
    AuditHead,
    DerivationCounter,
    Invoice,
    PaymentRequest,
)
from paybridge.store.models.outbox import (
    ErpInvoiceQuarantine,
    ErpOpenInvoice,
    ErpSyncState,
    SettlementAttempt,
    SettlementOutboxRow,
)
from paybridge.store.models.quotes import SupersededQuote
from paybridge.store.models.reconciliation import (
    ExceptionResolution,
    ReconException,
    ReconMatch,
    ReconRun,
    TieOutResult,
)

__all__ = [
    "ApiKey",
    "ApiOrder",
    "AuditEntry",
    "AuditHead",
    "ChainBlock",
    "ChainCursor",
    "ChainReceipt",
    "DerivationCounter",
    "ErpInvoiceQuarantine",
    "ErpOpenInvoice",
    "ErpSyncState",
    "ExceptionResolution",
    "IdempotencyKey",
    "Invoice",
    "PaymentNotification",
    "PaymentRequest",
    "ReconException",
    "ReconMatch",
    "ReconRun",
    "SettlementAttempt",
    "SettlementOutboxRow",
    "SupersededQuote",
    "TieOutResult",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
