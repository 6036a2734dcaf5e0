"""A local NetSuite REST/SuiteQL simulator for tests and the demo. Not NetSuite: see README.md."""

from simulators.netsuite.ledger import GlLine
from simulators.netsuite.oauth import TokenGrant
from simulators.netsuite.server import FaultConfig
from simulators.netsuite.simulator import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_GRANT,
    READ_ONLY_GRANT,
    NetSuiteSimulator,
)
from simulators.netsuite.state import Account, RecordError

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_GRANT",
    "READ_ONLY_GRANT",
    "Account",
    "FaultConfig",
    "GlLine",
    "NetSuiteSimulator",
    "RecordError",
    "TokenGrant",
]
