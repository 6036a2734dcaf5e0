"""Addresses and tx hashes joined and de-duplicated by 64-bit keys (`hex_text`) give exactly
what comparing the text gives, also when two different values share a key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from paybridge_reconciliation import prepare
from paybridge_reconciliation.hex_text import byte_matrix, text_keys
from paybridge_reconciliation.prepare import address_owner, transaction_codes


@pytest.fixture
def one_key(monkeypatch):
    """Every cell gets the same key: each key proposes a wrong row unless confirmed."""
    monkeypatch.setattr(prepare, "text_keys", lambda cells: np.zeros(len(cells), np.uint64))


def text(values: list[str]) -> pd.Series:
    return pd.Series(pa.chunked_array([pa.array(values)]), dtype="str")


def by_text(deposits: list[str], receivers: list[str]) -> list[int]:
    found = pc.index_in(pa.array(receivers), value_set=pa.array(deposits))
    return pc.fill_null(found, -1).to_pylist()


def test_a_shared_key_is_not_an_owner(one_key):
    a, b = "0x" + "1" * 40, "0x" + "2" * 40
    # only a is a deposit: b has its key, yet owns nothing
    assert address_owner(text([a]), text([b, a])).tolist() == [-1, 0]
    # both are deposits (keys not unique): the text lookup answers
    assert address_owner(text([a, b]), text([b, a, "0x" + "3" * 40])).tolist() == [1, 0, -1]


def test_keys_are_equal_for_equal_text_and_spread_otherwise():
    rng = np.random.default_rng(3)
    random = ["0x" + bytes(rng.integers(0, 256, 20, dtype=np.uint8)).hex() for _ in range(50000)]
    counted = [f"0x{i:040x}" for i in range(50000)] + [f"0x{i:040x}"[::-1] for i in range(50000)]
    for cells in (random, counted):
        keys = text_keys(byte_matrix(pa.array(cells + cells[:10]), 42))
        assert (keys[-10:] == keys[:10]).all()
        assert len(np.unique(keys)) == len(set(cells))  # no two different cells share a key
    hashes = text_keys(byte_matrix(pa.array([f"0x{i:064x}" for i in range(1000)]), 66))
    assert len(np.unique(hashes)) == 1000


def test_random_addresses_match_the_text_lookup():
    rng = np.random.default_rng(5)
    pool = ["0x" + bytes(rng.integers(0, 256, 20, dtype=np.uint8)).hex() for _ in range(3000)]
    deposits, receivers = pool[:2000], list(rng.choice(pool, 5000))
    expected = by_text(deposits, receivers)
    assert address_owner(text(deposits), text(receivers)).tolist() == expected
    assert min(expected) == -1 and max(expected) > 0


def test_addresses_that_are_not_plain_lower_hex_take_the_text_path():
    deposits = ["0x" + "a" * 40, "not an address"]
    receivers = ["not an address", "0x" + "a" * 40, "0x" + "A" * 40]
    assert address_owner(text(deposits), text(receivers)).tolist() == [1, 0, -1]


def test_transaction_codes_equal_factorize_with_colliding_keys(one_key):
    a, b = "0x" + "1" * 64, "0x" + "2" * 64
    hashes = [a, "0x" + "f" * 64, b, a, b, "0x" + "f" * 64]
    assert transaction_codes(text(hashes)).tolist() == pd.factorize(pd.Series(hashes))[0].tolist()
    assert transaction_codes(text(hashes)).tolist() == [0, 1, 2, 0, 2, 1]
