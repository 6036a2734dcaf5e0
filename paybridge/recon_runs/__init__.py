"""Reconciliation runs from the store (application side): export the store's requests and
receipts, run the pure engine in the top-level ``reconciliation`` package on them, persist the
run, its matches and the exceptions queue, queue settlements, and tie out against chain and ERP.

``reconciliation`` decides; ``recon_runs`` feeds it and keeps what it decided.
"""
