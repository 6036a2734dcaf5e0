"""Webhook endpoints (validated URLs, per-endpoint secrets rotatable with an overlap) and the
delivery worker that drains the outbox ``paybridge.webhook_outbox`` fills."""
