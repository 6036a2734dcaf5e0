"""A local SAP (S/4HANA OData + SOAP, ECC SOAP-RFC) simulator for tests and the demo. Not SAP:
see README.md for what it models and the SAP source of each rule."""

from simulators.faults import FaultConfig
from simulators.sap.ledger import DocumentKey, Ledger
from simulators.sap.simulator import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CLIENT,
    DEFAULT_CUSTOMERS,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    READ_ONLY_PASSWORD,
    READ_ONLY_USER,
    SETTLEMENT_ACCOUNTS,
    SAPSimulator,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CLIENT",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "READ_ONLY_PASSWORD",
    "READ_ONLY_USER",
    "SETTLEMENT_ACCOUNTS",
    "DocumentKey",
    "FaultConfig",
    "Ledger",
    "SAPSimulator",
]
