"""The demo's local world: anvil with the test contracts, the NetSuite simulator, a config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from web3 import Web3

from connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge.audit.keys import KeyRing, use_key_file, write_ring
from paybridge.config import PayBridgeConfig, load_config
from paybridge.devchain import DevContracts, deploy_standard_contracts, running_anvil
from paybridge.store.db import create_engine_for, migrate
from simulators.netsuite import DEFAULT_GRANT, SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator


@dataclass
class DemoWorld:
    out: Path
    w3: Web3
    contracts: DevContracts
    netsuite: NetSuiteSimulator
    netsuite_settings: NetSuiteConnectionConfig
    config: PayBridgeConfig
    engine: Engine


@contextmanager
def demo_world(out: Path, netsuite_invoices: int = 6) -> Iterator[DemoWorld]:
    """Start everything fresh under ``out``; stop it all afterwards."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with running_anvil(slots_in_an_epoch=1) as anvil, NetSuiteSimulator() as netsuite:
        w3 = anvil.web3()
        contracts = deploy_standard_contracts(w3)
        netsuite.seed_invoices(netsuite_invoices, customers=3, amount=Decimal("480.00"))
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
            yield DemoWorld(out, w3, contracts, netsuite, settings, config, engine)
        finally:
            engine.dispose()
