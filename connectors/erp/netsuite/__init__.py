"""NetSuite connector (REST + SuiteQL over the ``netsuite`` package, OAuth 1.0 TBA HMAC-SHA256)."""

from connectors.erp.netsuite.config import NetSuiteConnectionConfig, load_connection_config
from connectors.erp.netsuite.connector import NetSuiteConnector

__all__ = ["NetSuiteConnectionConfig", "NetSuiteConnector", "load_connection_config"]
