"""The built-in demo xpub is public test data whose addresses are not anvil's funded accounts."""

from __future__ import annotations

from address_test_keys import ANVIL_ACCOUNTS, ANVIL_MNEMONIC, account_xpub_from_mnemonic

from paybridge.addresses import derive_addresses
from paybridge.config import load_config


def test_the_local_chains_demo_xpub_is_account_1_of_the_anvil_mnemonic() -> None:
    xpub = load_config(None).chain("anvil").xpub  # real chains get none: see public_test_keys
    assert xpub == account_xpub_from_mnemonic(ANVIL_MNEMONIC, account=1)
    funded = set(derive_addresses(account_xpub_from_mnemonic(ANVIL_MNEMONIC), 0, 50))
    assert set(ANVIL_ACCOUNTS) <= funded
    assert not set(derive_addresses(xpub, 0, 50)) & funded
