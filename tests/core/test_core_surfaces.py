"""No echo, least privilege, plain terminal (issue 9, point 6): one test per finding.

Secrets given in the wrong place are refused without being repeated, files PayBridge creates
are readable by their owner only, text from files and ERPs is printed as text (no rich markup
or terminal escape sequences interpreted), and the simulator warns when it leaves loopback.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins
from click.testing import CliRunner, Result
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from pydantic import ValidationError
from typer.main import get_command

from paybridge.cli import context
from paybridge.cli.main import app
from paybridge.store.models import ErpInvoiceQuarantine

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
MNEMONIC = "test test test test test test test test test test test junk"  # anvil's, public
SECRET = "S3CRET-token-value-0042"


def _xprv() -> str:
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    node = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    return node.PrivateKey().ToExtended()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty directory as cwd, no PayBridge environment; the umask restored afterwards
    (the CLI tightens it for the process it runs in)."""
    monkeypatch.chdir(tmp_path)
    for console in (context.console, context.errors):  # wide: table cells are not folded
        monkeypatch.setattr(console, "width", 200)
    for name in ("PAYBRIDGE_CONFIG", "PAYBRIDGE_ERP_CONFIG", "PAYBRIDGE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    previous = os.umask(0o022)
    yield tmp_path
    os.umask(previous)


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(get_command(app), list(args), env=env)


def _output(result: Result) -> str:
    return result.stdout + result.stderr


# -- secrets are never printed -------------------------------------------------------------


def test_an_xprv_given_as_the_config_path_is_refused_unrepeated(workdir: Path) -> None:
    xprv = _xprv()
    result = _run("requests", "list", env={"PAYBRIDGE_CONFIG": xprv})
    assert result.exit_code == 2, _output(result)
    assert xprv[:12] not in _output(result)  # was: "config file xprv9s21... not found"
    assert "refused" in _output(result)


def test_a_mnemonic_given_as_the_erp_config_path_is_refused_unrepeated(workdir: Path) -> None:
    result = _run("erp", "test-connection", env={"PAYBRIDGE_ERP_CONFIG": MNEMONIC})
    assert result.exit_code == 2, _output(result)
    assert "test test" not in _output(result)  # was: "No such file or directory: 'test test..."
    assert "seed phrase" in _output(result)


def test_a_netsuite_secret_of_the_wrong_type_is_not_echoed(workdir: Path) -> None:
    settings = {
        "account": "123",
        "consumer_key": "ck",
        "consumer_secret": "cs",
        "token_id": "ti",
        "token_secret": [SECRET],  # a list where a string belongs
        "accounts": {
            "1": {
                "crypto_clearing": "2",
                "digital_asset": {"crypto_asset": "3"},
                "settlement_gain": "4",
                "settlement_loss": "4",
                "write_off": {"PAYMENT_DIFFERENCE": "5"},
            }
        },
    }
    (workdir / "ns.json").write_text(json.dumps(settings))
    result = _run("erp", "test-connection", "--erp-config", "ns.json")
    assert result.exit_code == 2
    assert "token_secret" in _output(result)  # the field is named...
    assert SECRET not in _output(result)  # ...its value is not
    with pytest.raises(ValidationError) as caught:
        NetSuiteConnectionConfig(**settings)
    assert SECRET not in str(caught.value)


# -- files PayBridge creates are 0600 ------------------------------------------------------


def test_init_writes_config_and_store_readable_by_the_owner_only(workdir: Path) -> None:
    result = _run("init")
    assert result.exit_code == 0, _output(result)
    for name in ("paybridge.toml", "paybridge.db"):  # were 0644 under the usual umask 022
        assert stat.S_IMODE((workdir / name).stat().st_mode) == 0o600, name


def test_exported_data_files_are_readable_by_the_owner_only(workdir: Path) -> None:
    assert _run("init").exit_code == 0
    os.umask(0o022)  # as a shell would have it for the next command
    result = _run("reconcile", "--export", "exported")
    assert result.exit_code == 0, _output(result)
    files = list((workdir / "exported").iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


# -- text from files and ERPs is shown as text ----------------------------------------------


def test_markup_and_escape_sequences_in_an_import_are_printed_as_text(workdir: Path) -> None:
    assert _run("init").exit_code == 0
    (workdir / "invoices.csv").write_text(
        "invoice_id,customer_id,amount,currency,chain,asset\n"
        "[link=https://evil.example]INV-9[/link],C1,1e3,USD,anvil,USDC\n"
        "INV-\x1b[2J\x1b]8;;https://evil.example\x07X,C1,10.00,USD,anvil,USDC\n"
    )
    result = _run("invoices", "import", "invoices.csv")
    assert result.exit_code == 1
    output = _output(result)
    assert "[link=https://evil.example]INV-9[/link]" in output  # was rendered as "INV-9"
    assert "U+001B" in output  # the id with escape sequences is refused, by name
    assert "\x1b" not in output and "\x07" not in output


def test_erp_text_with_markup_and_escape_sequences_is_printed_as_text(workdir: Path) -> None:
    assert _run("init").exit_code == 0
    engine = sa.create_engine(f"sqlite:///{workdir / 'paybridge.db'}")
    with engine.begin() as conn:  # what a sync of a hostile ERP record leaves in the quarantine
        conn.execute(
            sa.insert(ErpInvoiceQuarantine).values(
                connection="netsuite",
                erp_system="netsuite",
                company="1",
                invoice_id="INV-\x1b[2J\x1b]8;;https://evil.example\x07X",
                field="currency",
                reason="[link=https://evil.example]click here[/link] \u202eexe.txt",
                raw="{}",
                quarantined_at=datetime.now(UTC),
            )
        )
    engine.dispose()
    result = _run("erp", "quarantine")
    assert result.exit_code == 0, _output(result)
    output = _output(result)
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "INV-\\x1b[2J" in output  # was: the terminal cleared by the ERP's text
    assert "[link=https://evil.example]click here[/link]" in output


# -- servers bind loopback unless told otherwise, with a warning ----------------------------


def test_the_simulator_warns_when_told_to_listen_beyond_loopback(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [PAYBRIDGE, "sim", "netsuite", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until it listens (it prints its settings)
            if "NETSUITE_ACCOUNT" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Warning:" in err and "not loopback" in err  # was accepted without a word
