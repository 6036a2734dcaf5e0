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

#: the seeded GL accounts of each subsidiary, in the shape of a connection's ``accounts``
#: setting (what `paybridge sim netsuite` prints and the demo uses)
SEEDED_SETTLEMENT_ACCOUNTS = {
    "1": {
        "crypto_clearing": "301",
        "digital_asset": {"financial_instrument": "302", "crypto_asset": "305"},
        "settlement_gain": "303",
        "settlement_loss": "303",
        "write_off": {"PAYMENT_DIFFERENCE": "304"},
    },
    "2": {
        "crypto_clearing": "311",
        "digital_asset": {"financial_instrument": "312", "crypto_asset": "315"},
        "settlement_gain": "313",
        "settlement_loss": "313",
        "write_off": {"PAYMENT_DIFFERENCE": "314"},
    },
}

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_GRANT",
    "READ_ONLY_GRANT",
    "SEEDED_SETTLEMENT_ACCOUNTS",
    "Account",
    "FaultConfig",
    "GlLine",
    "NetSuiteSimulator",
    "RecordError",
    "TokenGrant",
]
