"""`paybridge addresses derive`: through the main app (CliRunner) and the installed script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from address_test_keys import ANVIL_ACCOUNTS, ANVIL_MNEMONIC, ANVIL_PRIVATE_KEY_0
from typer.testing import CliRunner

from paybridge.addresses import ANVIL_DEMO_XPUB, MAX_ADDRESS_INDEX, derive_addresses
from paybridge.cli.main import app

runner = CliRunner()
PAYBRIDGE = Path(sys.executable).parent / "paybridge"


def _derive(*args: str):
    return runner.invoke(app, ["addresses", "derive", *args])


def test_plain_output_lists_index_and_address() -> None:
    result = _derive("--xpub", ANVIL_DEMO_XPUB, "--index", "0", "--count", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{i} {a}" for i, a in enumerate(ANVIL_ACCOUNTS)]


def test_default_count_is_one() -> None:
    result = _derive("--xpub", ANVIL_DEMO_XPUB, "--index", "2")
    assert result.exit_code == 0
    assert result.stdout == f"2 {ANVIL_ACCOUNTS[2]}\n"


def test_json_output() -> None:
    result = _derive("--xpub", ANVIL_DEMO_XPUB, "--index", "10", "--count", "5", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows == [
        {"index": 10 + n, "address": a}
        for n, a in enumerate(derive_addresses(ANVIL_DEMO_XPUB, 10, 5))
    ]


def test_large_count_matches_the_library() -> None:
    result = _derive("--xpub", ANVIL_DEMO_XPUB, "--index", "0", "--count", "12000", "--json")
    assert result.exit_code == 0
    assert [r["address"] for r in json.loads(result.stdout)] == derive_addresses(
        ANVIL_DEMO_XPUB, 0, 12000
    )


@pytest.mark.parametrize(
    "secret", [ANVIL_MNEMONIC, ANVIL_PRIVATE_KEY_0, "0x" + ANVIL_PRIVATE_KEY_0]
)
def test_private_material_exits_2_without_echoing_it(secret: str) -> None:
    result = _derive("--xpub", secret, "--index", "0")
    assert result.exit_code == 2
    assert "PayBridge never holds private keys" in result.stderr
    assert "xpub" in result.stderr
    assert secret not in result.output and result.stdout == ""


def test_xprv_exits_2(anvil_account_xprv: str) -> None:
    result = _derive("--xpub", anvil_account_xprv, "--index", "0")
    assert result.exit_code == 2
    assert "extended private key" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--xpub", "xpub-nonsense", "--index", "0"], "not a valid extended public key"),
        (["--xpub", ANVIL_DEMO_XPUB, "--index", "-1"], "--index"),
        (["--xpub", ANVIL_DEMO_XPUB, "--index", "0", "--count", "0"], "--count"),
        (
            ["--xpub", ANVIL_DEMO_XPUB, "--index", str(MAX_ADDRESS_INDEX), "--count", "2"],
            "non-hardened",
        ),
        (["--xpub", ANVIL_DEMO_XPUB], "--index"),
        (["--index", "0"], "--xpub"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = _derive(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_installed_script_exit_codes() -> None:
    """The real console script, as an operator runs it (the main callback guard included)."""
    ok = subprocess.run(
        [
            str(PAYBRIDGE),
            "addresses",
            "derive",
            "--xpub",
            ANVIL_DEMO_XPUB,
            "--index",
            "0",
            "--count",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [f"{i} {a}" for i, a in enumerate(ANVIL_ACCOUNTS)]

    refused = subprocess.run(
        [str(PAYBRIDGE), "addresses", "derive", "--xpub", *ANVIL_MNEMONIC.split(), "--index", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "never holds private keys" in " ".join(refused.stderr.split())
    assert ANVIL_MNEMONIC not in refused.stderr
