"""Reconciliation wired to the store: export, run, persist, settle, exceptions, tie-outs."""
