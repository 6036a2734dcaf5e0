"""The payer's page ``/pay/{payment_id}``: ``routes`` (HTTP), ``view`` (what is shown, from the
store), ``receipt`` (HTML and PDF after completion); templates beside them (no CDN)."""

from paybridge.api.portal.routes import router

__all__ = ["router"]
