"""The payer's portal end to end: two local anvil chains (31337 "anvil" and 31338 "anvil-b",
the test tokens at the same addresses on both), a branded configuration, the API served by
uvicorn on loopback over a migrated store, and the real chain watcher. Payers pay with real
transfers; statuses move only through the watcher and a reconciliation run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bip_utils import Bip44, Bip44Coins
from paybridge_connectors.chain.rpc import RpcClient
from served_app import served
from sqlalchemy.engine import Engine
from web3 import Web3

from paybridge.access.api_keys import create_api_key
from paybridge.api.app import create_app
from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.config import PayBridgeConfig, load_config
from paybridge.devchain import AnvilNode, DevContracts, wait_receipt
from paybridge.store.db import transaction

HASH_KEY = bytes(range(32))
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "portal"
BRAND = {
    "brand_name": "Acme Tools GmbH",
    "primary_color": "#5a2a82",
    "on_primary_color": "#ffffff",
    "text_color": "#1d1d28",
    "background_color": "#efeaf4",
    "surface_color": "#ffffff",
}
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">'
    '<rect width="120" height="40" rx="6" fill="#5a2a82"/>'
    '<text x="60" y="27" font-size="20" text-anchor="middle" fill="#ffffff">ACME</text></svg>'
)


def fresh_xpub() -> str:
    account = Bip44.FromSeed(os.urandom(64), Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    return account.PublicKey().ToExtended()


def portal_config(nodes: dict[str, AnvilNode], logo: Path, database_url: str) -> PayBridgeConfig:
    """Only the two local chains, both on one fresh merchant xpub (so the payer may move
    between them keeping the deposit address), fixed rates, the Acme branding."""
    data: dict[str, Any] = load_config(None).model_dump(mode="json")
    anvil = next(c for c in data["chains"] if c["name"] == "anvil")
    chains, assets = [], []
    for name, node in nodes.items():
        chains.append({**anvil, "name": name, "chain_id": node.chain_id, "rpc_url": node.url,
                       "xpub": ""})  # fmt: skip
        assets += [{**a, "chain": name} for a in data["assets"] if a["chain"] == "anvil"]
    data.update(chains=chains, assets=assets, fx_rates={})
    data["merchant"] = {"name": "Acme", "xpub": fresh_xpub()}
    data["portal"] = {**BRAND, "logo_file": str(logo)}
    data["database"] = {"url": database_url}
    return PayBridgeConfig.model_validate(data)


@dataclass
class Portal:
    base_url: str
    engine: Engine
    config: PayBridgeConfig
    nodes: dict[str, AnvilNode]
    tokens: dict[str, DevContracts]

    def w3(self, chain: str = "anvil") -> Web3:
        return self.nodes[chain].web3()

    def create_order(self, **body: Any) -> dict[str, Any]:
        with transaction(self.engine) as session:
            _row, key = create_api_key(
                session, HASH_KEY, name="shop", scopes=["payments:write"], actor="test"
            )
        order = {"amount": "25", "pricing_currency": "USD", "currency": "USDC"}
        order |= {"network": "anvil", "description": "Invoice 2026-0042", **body}
        with httpx.Client(base_url=self.base_url, headers={"X-API-Key": key}) as http:
            answer = http.post("/v1/payments/create-order", json=order)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def pay_token(self, to: str, amount: int, *, chain: str = "anvil", token: str = "USDC") -> Any:
        w3 = self.w3(chain)
        contracts = self.tokens[chain]
        contract = contracts.usdc if token == "USDC" else contracts.token18
        payer = w3.eth.accounts[1]
        return wait_receipt(w3, contract.functions.transfer(to, amount).transact({"from": payer}))

    def watch(self, chain: str = "anvil", start_block: int | None = 0) -> Any:
        """One poll of the real chain watcher (records receipts, moves statuses, audits);
        ``start_block=None``: a first scan starts where the watcher itself decides."""
        node = self.nodes[chain]
        rpc = RpcClient(node.url, timeout=5.0, backoff=0.05)
        watcher = ChainWatcher(
            self.config.chain(chain),
            self.config.assets,
            self.engine,
            rpc=rpc,
            start_block=start_block,
        )
        return watcher.poll()

    def mine(self, blocks: int, chain: str = "anvil") -> None:
        self.w3(chain).provider.make_request("anvil_mine", [hex(blocks)])

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)


def serve(config: PayBridgeConfig, engine: Engine) -> Iterator[str]:
    with served(create_app(config, engine=engine, hash_key=HASH_KEY)) as port:
        yield f"http://127.0.0.1:{port}"
