"""Helpers: the payment API served by uvicorn on loopback over a migrated store (SQLite/PG),
a merchant xpub that is not a public test key, and API keys of each scope."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from bip_utils import Bip44, Bip44Coins
from served_app import served
from sqlalchemy.engine import Engine

from paybridge.access.api_keys import create_api_key
from paybridge.api.app import create_app
from paybridge.config import PayBridgeConfig
from paybridge.store.db import transaction

HASH_KEY = bytes(range(32))


def fresh_xpub() -> str:
    """An account xpub nobody published (unlike the anvil demo key): usable on mainnet."""
    account = Bip44.FromSeed(os.urandom(64), Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    return account.PublicKey().ToExtended()


@dataclass
class ApiServer:
    base_url: str
    engine: Engine
    config: PayBridgeConfig

    def key(self, *scopes: str, name: str = "shop") -> str:
        with transaction(self.engine) as session:
            _row, secret = create_api_key(
                session, HASH_KEY, name=name, scopes=list(scopes), actor="test"
            )
        return secret

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def serve(config: PayBridgeConfig, engine: Engine) -> Iterator[ApiServer]:
    """The API over real HTTP on loopback; stopped after the test."""
    with served(create_app(config, engine=engine, hash_key=HASH_KEY)) as port:
        yield ApiServer(f"http://127.0.0.1:{port}", engine, config)
