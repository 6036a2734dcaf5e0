"""Which ERP a connection file or the environment describes, and its connector.

A file with a ``[sap]`` table (or ``system = "s4" | "ecc"`` at the top) is an SAP connection;
otherwise NetSuite. Without a file: ``SAP_SYSTEM`` set means SAP, else the NETSUITE_* variables.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paybridge_connectors.erp.netsuite.config import (
    NetSuiteConnectionConfig,
    load_connection_config,
)
from paybridge_connectors.erp.sap.config import SapConnectionConfig, load_sap_config

if TYPE_CHECKING:
    from paybridge_connectors.erp.protocol import ErpConnector

ErpConnectionConfig = NetSuiteConnectionConfig | SapConnectionConfig


def _is_sap_file(path: str | Path) -> bool:
    file = Path(path)
    text = file.read_text()
    data: dict[str, Any] = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    return isinstance(data.get("sap"), dict) or data.get("system") in ("s4", "ecc", "S4", "ECC")


def load_erp_connection(
    path: str | Path | None = None, environ: dict[str, str] | None = None
) -> ErpConnectionConfig:
    env = os.environ if environ is None else environ
    if path is not None:
        return load_sap_config(path) if _is_sap_file(path) else load_connection_config(path)
    if env.get("SAP_SYSTEM"):
        return SapConnectionConfig.from_env(dict(env))
    return load_connection_config(None)


def env_prefix(config: ErpConnectionConfig) -> str:
    return "SAP_" if isinstance(config, SapConnectionConfig) else "NETSUITE_"


def open_connector(config: ErpConnectionConfig) -> ErpConnector:
    """The connector of this connection (use as a context manager; close() when done)."""
    if isinstance(config, SapConnectionConfig):
        from paybridge_connectors.erp.sap import sap_connector

        return sap_connector(config)  # type: ignore[return-value]
    from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

    return NetSuiteConnector(config)
