"""Portal fixtures: two anvil chains with the test tokens, the branded API, Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_env import ARTIFACTS, LOGO_SVG, Portal, portal_config, serve
from sqlalchemy.engine import Engine

from paybridge.devchain import deploy_standard_contracts, running_anvil, wait_receipt

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _portal(tmp_path: Path, url: str, engine: Engine) -> Iterator[Portal]:
    with running_anvil() as first, running_anvil(chain_id=31338) as second:
        nodes = {"anvil": first, "anvil-b": second}
        tokens = {}
        for name, node in nodes.items():
            w3 = node.web3()
            tokens[name] = contracts = deploy_standard_contracts(w3)
            owner, payer = w3.eth.accounts[0], w3.eth.accounts[1]
            for token in (contracts.usdc, contracts.token18):
                tx = token.functions.mint(payer, 10**24).transact({"from": owner})
                wait_receipt(w3, tx)
        logo = tmp_path / "acme-logo.svg"
        logo.write_text(LOGO_SVG)
        config = portal_config(nodes, logo, url)
        for base_url in serve(config, engine):
            yield Portal(base_url, engine, config, nodes, tokens)


@pytest.fixture
def portal(tmp_path: Path, sqlite_url: str, sqlite_store: Engine) -> Iterator[Portal]:
    """Over SQLite (the browser tests)."""
    yield from _portal(tmp_path, sqlite_url, sqlite_store)


@pytest.fixture
def any_store_portal(tmp_path: Path, database_url: str, store: Engine) -> Iterator[Portal]:
    """Over SQLite and over PostgreSQL (the store paths)."""
    yield from _portal(tmp_path, database_url, store)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("Debian chromium is not installed (`make browser`; CI always runs this)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()
