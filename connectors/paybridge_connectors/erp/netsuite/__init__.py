"""NetSuite connector (REST + SuiteQL over the ``netsuite`` package, OAuth 1.0 TBA HMAC-SHA256).

The connector (and with it the ``netsuite`` package, authlib and httpx) is imported on first
use: reading a connection's settings (``config``) must not cost the CLI its start-up time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paybridge_connectors.erp.netsuite.config import (
    NetSuiteConnectionConfig,
    load_connection_config,
)

if TYPE_CHECKING:
    from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

__all__ = ["NetSuiteConnectionConfig", "NetSuiteConnector", "load_connection_config"]


def __getattr__(name: str) -> Any:
    if name == "NetSuiteConnector":
        from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

        return NetSuiteConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
