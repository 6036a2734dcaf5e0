"""Every table PayBridge owns, imported so Alembic and ``Base.metadata`` see them all."""

from paybridge.store.models.core import (
    AuditEntry,
    AuditHead,
    DerivationCounter,
    Invoice,
    PaymentRequest,
)

__all__ = ["AuditEntry", "AuditHead", "DerivationCounter", "Invoice", "PaymentRequest"]
