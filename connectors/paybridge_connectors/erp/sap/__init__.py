"""SAP connectors: S/4HANA (OData + SOAP) and ECC (RFC BAPIs via pyrfc or SOAP-RFC)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybridge_connectors.erp.sap.config import SapConnectionConfig, load_sap_config

if TYPE_CHECKING:
    from paybridge_connectors.erp.sap.ecc import EccConnector
    from paybridge_connectors.erp.sap.s4 import S4Connector


def sap_connector(config: SapConnectionConfig) -> S4Connector | EccConnector:
    """The connector for the configured system type (imports pyodata/lxml only when used)."""
    if config.system == "s4":
        from paybridge_connectors.erp.sap.s4 import S4Connector

        return S4Connector(config)
    from paybridge_connectors.erp.sap.ecc import EccConnector

    return EccConnector(config)


__all__ = ["SapConnectionConfig", "load_sap_config", "sap_connector"]
