"""The demo's local world: anvil with the test contracts, the NetSuite and SAP (S/4HANA)
simulators, a config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from sqlalchemy.engine import Engine
from web3 import Web3

from paybridge.audit.keys import KeyRing, use_key_file, write_ring
from paybridge.config import PayBridgeConfig, load_config
from paybridge.devchain import DevContracts, deploy_standard_contracts, running_anvil
from paybridge.store.db import create_engine_for, migrate
from simulators.netsuite import DEFAULT_GRANT, SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator
from simulators.sap import (
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    SETTLEMENT_ACCOUNTS,
    DocumentKey,
    SAPSimulator,
)

#: the SAP company code the demo bills (USD, so the demo's USDC quote applies)
SAP_COMPANY_CODE = "1710"
SAP_CUSTOMERS = ("17100001", "17100002", "17100003")


@dataclass
class DemoWorld:
    out: Path
    w3: Web3
    contracts: DevContracts
    netsuite: NetSuiteSimulator
    netsuite_settings: NetSuiteConnectionConfig
    sap: SAPSimulator
    sap_settings: SapConnectionConfig
    config: PayBridgeConfig
    engine: Engine
    sap_keys: list[DocumentKey]


def sap_settings(sap: SAPSimulator) -> SapConnectionConfig:
    """An S/4HANA connection to the simulator's company code 1710, accounts by asset class."""
    return SapConnectionConfig(
        name="sap_demo",
        system="s4",
        base_url=sap.base_url,
        client=sap.client,
        user=DEFAULT_USER,
        password=DEFAULT_PASSWORD,
        company_codes=(SAP_COMPANY_CODE,),
        accounts={SAP_COMPANY_CODE: SETTLEMENT_ACCOUNTS},
        payment_chain="anvil",
        payment_asset="USDC",
        clearing_check_interval_s=0.05,
    )


def seed_sap(sap: SAPSimulator) -> list[DocumentKey]:
    keys = []
    for n, customer in enumerate(SAP_CUSTOMERS):
        reference = f"90{n + 1:06d}"
        keys.append(
            sap.seed_open_item(
                SAP_COMPANY_CODE,
                customer,
                Decimal("250.00") + n,
                "USD",
                reference=reference,
                assignment=reference,
                document_type="DR",
            )
        )
    return keys


@contextmanager
def demo_world(out: Path, netsuite_invoices: int = 6) -> Iterator[DemoWorld]:
    """Start everything fresh under ``out``; stop it all afterwards."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with (
        running_anvil(slots_in_an_epoch=1) as anvil,
        NetSuiteSimulator() as netsuite,
        SAPSimulator(clearing_delay_s=0.05) as sap,
    ):
        w3 = anvil.web3()
        contracts = deploy_standard_contracts(w3)
        netsuite.seed_invoices(netsuite_invoices, customers=3, amount=Decimal("480.00"))
        sap_keys = seed_sap(sap)
        config_file = out / "paybridge.toml"
        key_file = out / "paybridge-audit.key"  # beside the store, never in it
        write_ring(key_file, KeyRing.generate())
        config_file.write_text(
            f'[database]\nurl = "sqlite:///{out / "paybridge.db"}"\n'
            f'[audit]\nkey_file = "{key_file}"\n'
            f'[[chains]]\nname = "anvil"\nrpc_url = "{anvil.url}"\n'
        )
        config = load_config(config_file)
        use_key_file(config.audit.key_file)
        engine = create_engine_for(config.database.url)
        migrate(engine)
        settings = NetSuiteConnectionConfig(
            name="netsuite_demo",
            account=netsuite.account_id,
            consumer_key=DEFAULT_GRANT.consumer_key,
            consumer_secret=DEFAULT_GRANT.consumer_secret,
            token_id=DEFAULT_GRANT.token_id,
            token_secret=DEFAULT_GRANT.token_secret,
            base_url=netsuite.base_url,
            accounts=SEEDED_SETTLEMENT_ACCOUNTS,
            payment_chain="anvil",
            payment_asset="USDC",
        )
        try:
            yield DemoWorld(
                out,
                w3,
                contracts,
                netsuite,
                settings,
                sap,
                sap_settings(sap),
                config,
                engine,
                sap_keys,
            )
        finally:
            engine.dispose()
