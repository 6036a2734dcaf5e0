"""EIP-681: the spec's examples round-trip, numbers are exact integers, builders emit EIP-55."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybridge.addresses import ANVIL_DEMO_XPUB, derive_addresses
from paybridge.eip681 import (
    MAX_UINT256,
    InvalidPaymentUriError,
    PaymentUri,
    describe_amount,
    erc20_transfer_uri,
    format_base_units,
    format_number,
    native_payment_uri,
    parse_number,
    parse_payment_uri,
)

# The two examples given in the EIP-681 text, verbatim
EIP681_NATIVE = "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18"
EIP681_ERC20 = (
    "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer"
    "?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1"
)
# Built from the grammar: pay- prefix, @chain_id, gas parameters, ENS target
GRAMMAR_EXAMPLES = [
    "ethereum:pay-0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18",
    "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359@1?value=2.014e18",
    "ethereum:pay-0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359@137?value=2.014e18&gasLimit=21000"
    "&gasPrice=5e10",
    "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=1e18&gas=21000",
    "ethereum:pay-0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7@1/transfer"
    "?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1",
    # Base USDC request seen in the wild (Uniswap/interface#8022)
    "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer"
    "?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1e6",
    "ethereum:pay-merchant.eth@1?value=1.5e18",
    "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359",
]
TOKEN = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


@pytest.mark.parametrize("uri", [EIP681_NATIVE, EIP681_ERC20, *GRAMMAR_EXAMPLES])
def test_round_trip(uri: str) -> None:
    parsed = parse_payment_uri(uri)
    assert str(parsed) == uri
    assert parse_payment_uri(str(parsed)) == parsed


def test_spec_native_example() -> None:
    uri = parse_payment_uri(EIP681_NATIVE)
    assert uri.value == 2_014_000_000_000_000_000
    assert uri.amount == uri.value and isinstance(uri.value, int)
    assert uri.recipient == "0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359"
    assert uri.token is None and uri.chain_id is None and uri.function_name is None
    assert not uri.pay_prefix


def test_spec_erc20_example() -> None:
    uri = parse_payment_uri(EIP681_ERC20)
    assert uri.is_erc20_transfer
    assert uri.token == "0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7"
    assert uri.recipient == "0x8e23ee67d1332ad560396262c48ffbb01f93d052"
    assert uri.amount == 1
    assert uri.value is None


def test_prefix_chain_and_gas() -> None:
    uri = parse_payment_uri(GRAMMAR_EXAMPLES[2])
    assert uri.pay_prefix and uri.chain_id == 137
    assert (uri.value, uri.gas_limit, uri.gas_price) == (2_014 * 10**15, 21_000, 50 * 10**9)
    assert parse_payment_uri(GRAMMAR_EXAMPLES[3]).gas_limit == 21_000  # gas == gasLimit
    assert parse_payment_uri(GRAMMAR_EXAMPLES[5]).amount == 1_000_000
    ens = parse_payment_uri(GRAMMAR_EXAMPLES[6])
    assert ens.target == "merchant.eth" and ens.value == 15 * 10**17


def test_scheme_is_case_insensitive_on_parse() -> None:
    assert parse_payment_uri("ETHEREUM:" + EIP681_NATIVE[9:]).value == 2_014 * 10**15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.014e18", 2_014_000_000_000_000_000),
        ("1.234e3", 1234),  # eth-url-parser vector
        ("1e6", 1_000_000),
        ("1E6", 1_000_000),
        ("0.5e1", 5),
        (".5e1", 5),
        ("+3", 3),
        ("-3", -3),
        ("20000000", 20_000_000),
        ("1.000000000000000001e18", 10**18 + 1),  # a float would give 1e18
        ("1.20e1", 12),
        ("7e", 7),  # the grammar allows an exponent marker without digits
        (
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            MAX_UINT256,
        ),
    ],
)
def test_numbers_are_exact_ints(text: str, expected: int) -> None:
    result = parse_number(text)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "text",
    [
        "1.5",
        "1.2345e3",
        "e5",
        "",
        ".",
        "+",
        "abc",
        "1.0.0",
        "0x10",
        "1e1000",
        "1 e3",
        "1,000",
        "1" * 300,
        "nan",
        "inf",
        "1e-3",
    ],
)
def test_invalid_numbers(text: str) -> None:
    with pytest.raises(InvalidPaymentUriError):
        parse_number(text)


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("bitcoin:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359", "scheme"),
        ("ethereum0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359", "scheme"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d35", "40 hex"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359@abc", "chain id"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359@", "chain id"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359/?value=1", "function name"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?", "empty parameter"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value", "key=value"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=1.5", "whole number"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=-1", "outside"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2e77", "outside"),
        ("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?gas=1.5e0", "whole number"),
        (
            "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer?address=0x12&uint256=1",
            "40 hex",
        ),
        (
            "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer"
            "?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=-1",
            "uint256 range",
        ),
        ("ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/approve?uint8=256", "uint8 range"),
        ("ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/f?int8=-129", "int8 range"),
        ("ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/f?uint7=1", "integer type"),
        ("ethereum:nodots?value=1", "ENS"),
    ],
)
def test_invalid_uris_name_the_problem(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidPaymentUriError, match=fragment):
        parse_payment_uri(uri)


def test_erc20_builder_matches_the_documented_shape() -> None:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, 0, 1)[0]
    uri = erc20_transfer_uri(TOKEN.lower(), 8453, deposit.lower(), 20_000_000)
    assert str(uri) == f"ethereum:{TOKEN}@8453/transfer?address={deposit}&uint256=20000000"
    parsed = parse_payment_uri(str(uri))
    assert parsed == uri
    assert (parsed.token, parsed.recipient, parsed.amount, parsed.chain_id) == (
        TOKEN,
        deposit,
        20_000_000,
        8453,
    )


def test_native_builder_matches_the_documented_shape() -> None:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, 1, 1)[0]
    uri = native_payment_uri(deposit, 31337, 2_014 * 10**15)
    assert str(uri) == f"ethereum:{deposit}@31337?value=2014000000000000000"
    assert parse_payment_uri(str(uri)).amount == 2_014 * 10**15


def test_scientific_notation_option_parses_to_the_same_amount() -> None:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, 2, 1)[0]
    native = native_payment_uri(deposit, 1, 2_014 * 10**15, exponent=18)
    assert str(native).endswith("?value=2.014e18")
    token = erc20_transfer_uri(TOKEN, 8453, deposit, 20_000_000, exponent=6)
    assert str(token).endswith("&uint256=20e6")
    assert parse_payment_uri(str(native)).amount == 2_014 * 10**15
    assert parse_payment_uri(str(token)).amount == 20_000_000


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": 0}, ValueError),
        ({"amount": -1}, ValueError),
        ({"amount": MAX_UINT256 + 1}, ValueError),
        ({"amount": 1.5}, TypeError),
        ({"amount": Decimal("20")}, TypeError),
        ({"amount": True}, TypeError),
        ({"chain_id": 0}, ValueError),
        ({"chain_id": "8453"}, ValueError),
        ({"deposit": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267"}, ValueError),  # bad checksum
        ({"deposit": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226"}, ValueError),
        ({"token": "usdc.eth"}, ValueError),
    ],
)
def test_builder_rejects_bad_input(kwargs: dict, error: type[Exception]) -> None:
    args = {
        "token": TOKEN,
        "chain_id": 8453,
        "deposit": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "amount": 1,
    } | kwargs
    with pytest.raises(error):
        erc20_transfer_uri(**args)


def test_payment_uri_is_frozen() -> None:
    uri = parse_payment_uri(EIP681_NATIVE)
    with pytest.raises(AttributeError):
        uri.chain_id = 1  # type: ignore[misc]
    assert hash(uri) == hash(PaymentUri(**uri.__dict__))


def test_percent_encoded_string_parameter() -> None:
    uri = parse_payment_uri(
        "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/setName?string=ACME%20%26%20Co"
    )
    assert uri.get("string") == "ACME & Co"
    assert str(uri).endswith("string=ACME%20%26%20Co")


@pytest.mark.parametrize(
    ("base_units", "decimals", "symbol", "label"),
    [
        (1_234_500_000, 6, "USDC", "1,234.50 USDC"),
        (20_000_000, 6, "USDC", "20.00 USDC"),
        (1, 6, "USDC", "0.000001 USDC"),
        (2_014 * 10**15, 18, "ETH", "2.014 ETH"),
        (1, 18, "ETH", "0.000000000000000001 ETH"),
        (10**18, 18, "ETH", "1.00 ETH"),
        (5, 0, "NOD", "5 NOD"),
        (123_456_789, 1, "ONE", "12,345,678.9 ONE"),  # never more digits than the token has
        (123_456_780, 1, "ONE", "12,345,678.0 ONE"),
    ],
)
def test_describe_amount(base_units: int, decimals: int, symbol: str, label: str) -> None:
    assert describe_amount(base_units, decimals, symbol) == label


def test_format_base_units_rejects_floats() -> None:
    with pytest.raises(TypeError):
        format_base_units(1.5, 6)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(min_value=0, max_value=MAX_UINT256), decimals=st.integers(0, 36))
def test_human_amount_is_exact(amount: int, decimals: int) -> None:
    shown = format_base_units(amount, decimals).replace(",", "")
    with localcontext() as ctx:
        ctx.prec = 200
        assert Decimal(shown) * (Decimal(10) ** decimals) == amount


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=-MAX_UINT256, max_value=MAX_UINT256),
    exponent=st.one_of(st.none(), st.integers(0, 40)),
)
def test_format_and_parse_number_round_trip(amount: int, exponent: int | None) -> None:
    assert parse_number(format_number(amount, exponent)) == amount


@settings(max_examples=100, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=MAX_UINT256),
    chain_id=st.integers(min_value=1, max_value=2**53),
    index=st.integers(min_value=0, max_value=50),
)
def test_built_uris_round_trip(amount: int, chain_id: int, index: int) -> None:
    deposit = derive_addresses(ANVIL_DEMO_XPUB, index, 1)[0]
    for uri in (
        erc20_transfer_uri(TOKEN, chain_id, deposit, amount),
        native_payment_uri(deposit, chain_id, amount),
    ):
        parsed = parse_payment_uri(str(uri))
        assert parsed == uri
        assert (parsed.amount, parsed.recipient, parsed.chain_id) == (amount, deposit, chain_id)
