"""Fixtures for the address, key-guard and address-CLI tests."""

from __future__ import annotations

import pytest
from address_test_keys import ANVIL_MNEMONIC, account_xprv_from_mnemonic, account_xpub_from_mnemonic


@pytest.fixture(scope="session")
def anvil_account_xpub() -> str:
    """Computed at test time from the mnemonic, independently of ANVIL_DEMO_XPUB."""
    return account_xpub_from_mnemonic(ANVIL_MNEMONIC)


@pytest.fixture(scope="session")
def anvil_account_xprv() -> str:
    return account_xprv_from_mnemonic(ANVIL_MNEMONIC)
