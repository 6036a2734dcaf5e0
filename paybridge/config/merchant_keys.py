"""Which account xpub a chain's deposit addresses come from, and refusing public test keys.

Scope: ``[merchant] xpub`` is the account xpub for every chain; a ``[[chains]]`` entry may set
its own ``xpub``, which wins for that chain (the built-in local chain carries the demo key this
way, so ``paybridge init`` writes no usable key for a real chain). Every chain that would use a
key is checked on its own.

Why refuse test keys: the default mnemonics of anvil/Hardhat, Truffle and Ganache are printed in
their documentation, so anyone can derive the private keys of every deposit address under them
and take what customers pay. They are allowed only on the local development chain (chain id
31337). The list below is precomputed (m/44'/60'/a' for accounts 0..9) so loading a config derives
nothing; ``tests/addresses/test_addresses_public_test_keys.py`` recomputes it from the mnemonics.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from paybridge.addresses import InvalidXpubError, WatchOnlyWallet
from paybridge.config.model import ConfigError
from paybridge.secrets_guard import base58check_decode

if TYPE_CHECKING:
    from paybridge.config.model import ChainConfig, PayBridgeConfig

#: The local development chain (anvil's and Hardhat's default chain id): test keys allowed.
LOCAL_DEV_CHAIN_IDS = frozenset({31337})

#: How to get the right key, repeated in every refusal.
EXPORT_HINT = (
    "Export YOUR wallet's account-level extended public key (the xpub of m/44'/60'/0', shown "
    "as the account's 'extended public key' / 'xpub' in Trezor Suite, Sparrow-style wallets or "
    "Ledger tooling; never the seed phrase or a private key), set it as [merchant] xpub (or "
    "the chain's own xpub), and check it with `paybridge addresses derive --xpub XPUB --index 0 "
    "--count 3` against the receiving addresses your wallet shows."
)

#: The dev tools whose default mnemonics are public, by the label used below.
PUBLIC_TEST_MNEMONICS = {
    "anvil": "the anvil/Hardhat default test mnemonic ('test test ... junk')",
    "truffle": "the Truffle develop test mnemonic ('candy maple cake ...')",
    "ganache": "the Ganache deterministic test mnemonic ('myth like bonus ...')",
}

#: Per mnemonic label, the xpub of m/44'/60'/a' at position a (accounts 0..9).
PUBLIC_TEST_ACCOUNT_XPUBS: dict[str, tuple[str, ...]] = {
    "anvil": (
        "xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg"
        "9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd54JoNXVsXFYSYwHsnJxqP",
        "xpub6Ce9NcJvTk372KjsGfWqbcex5DumjpNquQLApoeQUavSCjEc823B"
        "V1tb4rXUuPuht8h2hSxkg2EXUaKUJmniJvRZAELxypsCzBFdtosmV76",
        "xpub6Ce9NcJvTk374xmC966FRY8NvVzjBr7FGiEf1h8mWkSwvCkvZ7Ps"
        "CWEJS3nMsKLtRwsuEWY6indWjZFCB7yTqMpAoU7Z8c8TEkanQrsMF6j",
        "xpub6Ce9NcJvTk376duBLE9mNHYgMErdjFCyJtFqy1AbWiFNUaoQeLbW"
        "bM8H3VuihatavuEmPgYnYJM7eXvZjtjSiWMp4s22DLTP3qsUoe4EzNu",
        "xpub6Ce9NcJvTk379f31cvx8zHHsh6K91r3dAdtEMSV31geuA9wHiceb"
        "JhQSugePN6D1y4V6yNcMQE1VYVMbtNebmKjiyse6La8o8cYg93hXrtz",
        "xpub6Ce9NcJvTk37Bzxb8tEr66HG1mUvG7VWr6GbUxSAmKxFtqAX8iAh"
        "SYZeXHdpuH7psUuh9w9Yze3ffTWeueTKHme62h6pACAQk2CNvJZcy6v",
        "xpub6Ce9NcJvTk37G1mh6FaTc8APjtLRgMgMBYSmvVvjTM6x6QcyuwYs"
        "CG9ZTJuaxXAocKYihcrMxd1xZMc65wVHAhZyL8iC16cRMdgKKDac5K7",
        "xpub6Ce9NcJvTk37JBtr1eY9EsMZtMiNE1eTP4tmjVpfv5jBrmMxag6m"
        "2Vx99tzFbrPSgbYYCGJE82UetSJzNurv8JAzgEx2Duh3aa4p5ZW2gHX",
        "xpub6Ce9NcJvTk37L1BdUofdp4aGV3hRsYyTJVHhMPrfUme3jg6mgpwT"
        "NDvAqq25itLW4CnK2r7hK54DQLaWWpokYiDtfjhMxBaWgubuqwGzTpJ",
        "xpub6Ce9NcJvTk37PpiwSGqAkusuGidejkYix9H4VnGhpAFgstKo8eSH"
        "YUHtvffmVWfgn6PTWRV3Zi6qimv6d1JKwnikmdXPTQ4PkYAzs8mkM86",
    ),
    "truffle": (
        "xpub6DV1a294V5vLS6yZyMhvtrXfs2w2mjKvdevJobqPCN2HUZmjwsgm"
        "2bFet1pUiPWhVGzMJ4JCsxGNrc9ohC8kERiEwfdh42rDErdsCF7vxUv",
        "xpub6DV1a294V5vLUf6tjX9wNapKjDZ2GmYUgxANQszkvicLgH3QYDyA"
        "sygsRyNqcskapvQhK8qs1zJZm1UfCqcHwkwuvJkdj1f76u5HM8m89Lz",
        "xpub6DV1a294V5vLW3huyVNJ6RveaoQ65co65uRcQBopDSr3w83QaZF1"
        "XaPJESy3zmCzcLc9WxQUKkE3JzXozVmtqhFkX8bEFbetiMvfhf7qE1X",
        "xpub6DV1a294V5vLZZzhHNGoGdHYAWMGGMq396FVZfcrnMZQrsVnC3gK"
        "fwvHgdSZH1huvs3VEM3BoWgd6DyQbcSC2eb3SFs2BXQzFvCH7Bnq2MS",
        "xpub6DV1a294V5vLboEkJratS7C6STFwq42frrxiWopdVwYsZxDVv6W3"
        "S3LtTvpCjYMeDB2KSsbs7aANQi9Rn8n7v52LugvocbhV9TuEbL3eDnr",
        "xpub6DV1a294V5vLfTuHkjGHq5kYoq9w1suQkCisHCReNBHZFvBg9tzs"
        "VvqSfMHbMcLLDKbw3CyE1KBn4wnXkJatsowC6NCAUYazNsgcoJPNLiH",
        "xpub6DV1a294V5vLfpVUULuHwAKLT5fzyrPKi9ijg7aXo6WRnMu9AK28"
        "QML1r2w2e7xu3wsnQcDdrmBDTYyhFSfbXp5QhbKTaHu1G1jUL39sKT2",
        "xpub6DV1a294V5vLjHNdszpCrt5TCsATZLKcjNDN7BeQPZD4eqt2E3ew"
        "CwHU8iNwsfkJ16DStFVUpCSKpY1udiTKeoTj2fvBsF3ejxswVjunLkE",
        "xpub6DV1a294V5vLnKNzsxTrEXBMLyAzwuBkAVs9dHsv6ECRRdpiywYN"
        "Xr915eouNYxDqm3Xqji6wrUf1p2BXKbPTqwjzbqzB6Zd8xbapofQiJ7",
        "xpub6DV1a294V5vLp6CeTMibDVUePQzt4rPnxN8mtGPxSnjWxeuEuobx"
        "5DD7FatQyt8h99uXCQLkTFus2RsmqSPKBpTYdopv72AXbP34rYUic8d",
    ),
    "ganache": (
        "xpub6DNro2eEZk9SreVWArMUamKzpa4oV7bJ9T8ffVKxbDPxrhToccxw"
        "CLg97v2ct8tk8TNsUEUj6XCUzQmb6LGzZTANdZDPC2KqLk4o3EnPfFi",
        "xpub6DNro2eEZk9StHTo3xG45DSu9tJFeNB6VrRurb8K84aYxuyBcTMQ"
        "f89CS9bTDSD4B1KGu6rWLwkyP6nvVRqesz3jsvZCnJtpWwMF39taUBf",
        "xpub6DNro2eEZk9Svx18p2sd9cjiCRAZd65uybzPdQ1k1CRy8aSzZ4iY"
        "cgKHQeh9eBKBmTBTk7pyoJJ6PAfNVPSAAnuGfUSJRbqgppdefch5oLg",
        "xpub6DNro2eEZk9SyvvYKEfUY1NVsFDW5sDJtqetJSz7mVSotrQjB1XV"
        "q1mZpwaKwvLehJvayEKsdHAsGeeNHDbb2SKjCLJYLGZ1CUNJSr8ZTvL",
        "xpub6DNro2eEZk9T41kFnNBCMJn4w3p9AGSCJpM1xmy1NmyMWREE4EHv"
        "d3c6FDAcgKy3A7SkwDqRZBptQ1aFviRDF4Wm7k6dGD9YZYthRdhz2jd",
        "xpub6DNro2eEZk9T4GoUKutPQREjPJpEtAiV9kuqfBMDgV6fMUTLfLRq"
        "tgfkV2cUKRDCDm7hJqzWzSRjZRzwiNUZNjKVsDAcJ1KPRiWckWcwwo8",
        "xpub6DNro2eEZk9T8xK8e8Zu2NWtjDjSD9nsWUCThUZGTGm5wNtmBhEr"
        "w46foW4X1sj3uyHhpq7BuQp6uuwfLrsHvjXDAcogZfEEaDWPyT69Q7P",
        "xpub6DNro2eEZk9TA4L1pUEsoRUwkEqRM9AwQ6BxFP2zcEojDZkqRTTr"
        "Kx1mJ5mbhPDWPWuqh7tM41p5DiLXJs9KnUKhUWMigYKrHRh1CuwiZru",
        "xpub6DNro2eEZk9TCRTAyzHpQbKoVXQ84LXgXbSaH31vK2RzBgGUy4Ft"
        "ACGQHcW3mU6hnHvh64oYiKsxkYZfksTADmkEd6jqzmJ2xwiDtwAzG68",
        "xpub6DNro2eEZk9TFQ1fNQ4yUDM4xhVcUJHhpHw2WwAeSvkMxXrMq1J3"
        "bpDzsg7jCntWc86FuYYVRWPGr2SmExvnyM7nUE5vx8pQJNFQ9aKxQPK",
    ),
}


class MerchantKeyError(ConfigError):
    """A chain has no usable merchant xpub: unset, invalid or a public test key."""


@lru_cache(maxsize=256)
def _key_id(xpub: str) -> bytes | None:
    """Public key + chain code of a serialized extended key: what every child depends on.

    Read straight from the serialization (no curve arithmetic), so checking a config against
    the list costs microseconds; another spelling of the same key (version bytes, parent
    fingerprint) still matches. Cached: the API checks its merchant key on every order, and
    the base58 decoding with its double SHA-256 is most of that check.
    """
    raw = base58check_decode(xpub.strip())
    if raw is None:  # not base58check: not one of ours (validation names the problem)
        return None
    return raw[45:78] + raw[13:45] if len(raw) == 78 else None


@cache
def _public_key_ids() -> dict[bytes, tuple[str, int]]:
    return {
        key_id: (label, account)
        for label, xpubs in PUBLIC_TEST_ACCOUNT_XPUBS.items()
        for account, xpub in enumerate(xpubs)
        if (key_id := _key_id(xpub)) is not None
    }


def public_test_key(xpub: str) -> str | None:
    """Describe the public test key ``xpub`` is (compared by key, not by spelling), or None."""
    found = _public_key_ids().get(_key_id(xpub) or b"")
    if found is None:
        return None
    label, account = found
    return f"account {account}' of {PUBLIC_TEST_MNEMONICS[label]}"


def xpub_source(config: PayBridgeConfig, chain: ChainConfig) -> tuple[str, str]:
    """(xpub, the config key it comes from) for this chain; the xpub may be empty."""
    if chain.xpub:
        return chain.xpub, f"chains[{chain.name}].xpub"
    return config.merchant.xpub, "merchant.xpub"


def check_chain_key(config: PayBridgeConfig, chain: ChainConfig) -> str | None:
    """Refuse an invalid or public test xpub for this chain; return its xpub (None if unset)."""
    xpub, key = xpub_source(config, chain)
    if not xpub:
        return None
    try:
        _wallet(xpub)
    except InvalidXpubError:
        try:
            WatchOnlyWallet(xpub, where=key)  # again, for the message naming the key
        except InvalidXpubError as exc:
            raise MerchantKeyError(f"{exc}. {EXPORT_HINT}") from exc
    public = public_test_key(xpub)
    if public and chain.chain_id not in LOCAL_DEV_CHAIN_IDS:
        raise MerchantKeyError(
            f"{key}: refused for chain {chain.name} (chain id {chain.chain_id}): this xpub is "
            f"{public}, whose private keys anyone can derive, so anything paid to its deposit "
            "addresses can be taken. Test keys are allowed only on the local development chain "
            f"(chain id {', '.join(map(str, sorted(LOCAL_DEV_CHAIN_IDS)))}). {EXPORT_HINT}"
        )
    return xpub


def check_all_chain_keys(config: PayBridgeConfig) -> None:
    """Load-time check of every configured chain's effective xpub."""
    for chain in config.chains:
        check_chain_key(config, chain)


def merchant_wallet(config: PayBridgeConfig, chain_name: str) -> WatchOnlyWallet:
    """The watch-only wallet deposit addresses on this chain are derived from."""
    chain = config.chain(chain_name)
    xpub = check_chain_key(config, chain)
    if xpub is None:
        raise MerchantKeyError(
            f"no merchant xpub for chain {chain.name} (chain id {chain.chain_id}): set "
            f"[merchant] xpub, or xpub in its [[chains]] entry. {EXPORT_HINT}"
        )
    return _wallet(xpub)


@cache
def _wallet(xpub: str) -> WatchOnlyWallet:
    return WatchOnlyWallet(xpub)
