"""Chain data into the store: the watcher's cursor, reorg handling, finality and receipts, and
the live payment-request status derived from them. Reads chains through
``paybridge_connectors.chain``."""
