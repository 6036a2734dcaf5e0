"""Payment requests: creation, lifecycle, allocation of receipts."""

#: invoices per transaction when creating requests (here, not in ``pipeline``, so that the CLI
#: can show it as the default without importing web3)
DEFAULT_BATCH = 1000
