"""The daily CLI at 80 columns, as finance ops run it on a real SQLite store: full ids, amounts
in token units and invoice currencies (golden files), paging notices, the new views (invoices,
settlements, audit log, exception evidence) and amount inputs. Commands run in-process (typer's
runner, console 80 columns wide); one real process with COLUMNS=80 checks the same output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from golden_files import assert_golden
from readable_store import ETH_ABOVE_2_63, REQUEST_IDS, SETTLEMENTS, TX_OVER, seed
from typer.testing import CliRunner

from paybridge.cli.context import console, errors
from paybridge.cli.main import app
from paybridge.store.db import create_engine_for

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
EXCEPTION_IDS = ["EX-0b3e416a9c2d", "EX-5f1d2c3b4a59", "EX-9a8b7c6d5e4f"]


class Output:
    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout, self.stderr = stdout, stderr


def run(cwd: Path, *args: str, code: int = 0) -> Output:
    """One command in this process, the console 80 columns wide (as a terminal of 80)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return Output(result.stdout, result.stderr)


def run_process(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "80",
        "PYTHONWARNINGS": "ignore",
        "PAYBRIDGE_AUDIT_KEY_FILE": os.environ["PAYBRIDGE_AUDIT_KEY_FILE"],
    }
    result = subprocess.run(
        [PAYBRIDGE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == code, result.stdout + result.stderr
    return result


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    monkeypatch.delenv("PAYBRIDGE_DATABASE_URL", raising=False)
    for stream in (console, errors):
        monkeypatch.setattr(stream, "_width", 80)
    run(tmp_path, "init")
    seed(create_engine_for(f"sqlite:///{tmp_path / 'paybridge.db'}"))
    return tmp_path


def test_a_real_terminal_of_80_columns_shows_the_same(store: Path) -> None:
    """The same golden output from a real process with COLUMNS=80."""
    out = run_process(store, "exceptions", "list").stdout
    assert_golden("exceptions_list.txt", out)


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize(
    ("golden", "args"),
    [
        ("exceptions_list.txt", ("exceptions", "list")),
        ("requests_list.txt", ("requests", "list")),
        ("invoices_list.txt", ("invoices", "list")),
        ("settlements_list.txt", ("settlements", "list")),
        # the seeded entries (the one `init` adds for its bootstrap admin is newer)
        ("audit_log.txt", ("audit", "log", "--until", "2026-11-04")),
    ],
)
def test_lists_at_80_columns_keep_full_ids_and_readable_amounts(
    store: Path, golden: str, args: tuple[str, ...]
) -> None:
    out = run(store, *args).stdout
    assert _widest(out) <= 80
    assert_golden(golden, out)
    for ident in {
        "exceptions": EXCEPTION_IDS + REQUEST_IDS[:2],
        "requests": REQUEST_IDS,
        "invoices": REQUEST_IDS,
        "settlements": [s[0] for s in SETTLEMENTS],
        "audit": [SETTLEMENTS[0][0], REQUEST_IDS[2], EXCEPTION_IDS[1]],
    }[args[0]]:
        assert ident in out, f"{ident} cut in `{' '.join(args)}`"
    assert "…" not in out


def test_exceptions_list_shows_token_amounts_and_the_shortfall(store: Path) -> None:
    out = run(store, "exceptions", "list").stdout
    assert "short" in out and "40.00" in out  # UNDERPAID: the shortfall, not 0
    assert "48300000" not in out and str(ETH_ABOVE_2_63 - 10**18) not in out
    rows = {
        r["exception_id"]: r for r in json.loads(run(store, "exceptions", "list", "--json").stdout)
    }
    under, over = rows[EXCEPTION_IDS[0]], rows[EXCEPTION_IDS[1]]
    assert (under["remaining_due_base_units"], under["shortfall_display"]) == (
        "40000000",
        "40.00 USDC",
    )
    assert under["shortfall_invoice_currency"] == "40.00 USD"
    assert (over["amount_base_units"], over["amount_display"]) == (
        str(ETH_ABOVE_2_63 - 10**18),
        "8.315072036854775808 ETH",
    )


def test_exceptions_show_gives_the_evidence(store: Path) -> None:
    out = run(store, "exceptions", "show", EXCEPTION_IDS[1]).stdout
    assert f"https://etherscan.io/tx/{TX_OVER}" in out  # whole, from the config's explorer
    assert "8.315072036854775808 ETH" in out and "1,250,000 JPY" in out
    assert "RES-1a2b3c4d5e6f7a8b: refund 8.315072036854775808 ETH proposed" in out
    under = json.loads(run(store, "exceptions", "show", EXCEPTION_IDS[0], "--json").stdout)
    assert under["request"]["amount_received_display"] == "440.00 USDC"
    [match] = under["engine_matches"]
    assert (match["rule"], match["amount_applied_display"]) == ("exact_address", "440.00 USDC")
    assert under["engine_detail"].startswith("received 440.00 of 480.00 USDC")
    missing = run(store, "exceptions", "show", "EX-000000000000", code=1)
    assert "exceptions list" in missing.stderr


def test_paging_says_when_a_list_is_cut(store: Path) -> None:
    first = run(store, "exceptions", "list", "--limit", "2")
    assert first.stdout.count("EX-") == 2
    assert "showing exceptions 1-2 of 3; next page: --offset 2" in " ".join(first.stderr.split())
    last = run(store, "exceptions", "list", "--limit", "2", "--offset", "2", "--json")
    assert [r["exception_id"] for r in json.loads(last.stdout)] == [EXCEPTION_IDS[2]]
    assert "showing exceptions 3-3 of 3" in last.stderr
    whole = run(store, "settlements", "list")
    assert whole.stderr == ""  # nothing cut, nothing said
    cut = run(store, "audit", "log", "--limit", "1", "--until", "2026-11-04")
    assert "of 3; next page: --offset 1" in " ".join(cut.stderr.split())


def test_settlements_flag_unknown_and_missing_connections(store: Path) -> None:
    rows = {
        r["settlement_id"]: r
        for r in json.loads(run(store, "settlements", "list", "--json").stdout)
    }
    posted, unknown, none = (rows[s[0]] for s in SETTLEMENTS)
    assert unknown["connection_configured"] is False
    assert unknown["connection_display"] == "sap-eu (UNKNOWN: not configured)"
    assert none["connection_display"] == "(no ERP connection)"
    assert (posted["payment_amount"], posted["payment_amount_display"]) == ("480.00", "480.00 USD")
    assert none["payment_amount_display"] == "12.345 BHD"
    shown = run(store, "settlements", "show", SETTLEMENTS[1][0]).stdout
    assert "UNKNOWN: not configured" in shown and "1,250,000 JPY" in shown


def test_invoices_list_and_show(store: Path) -> None:
    listed = json.loads(run(store, "invoices", "list", "--json").stdout)
    assert {i["invoice_id"]: i["amount_display"] for i in listed} == {
        "INV-USD-0001": "480.00 USD",
        "INV-JPY-0002": "1,250,000 JPY",
        "INV-BHD-0003": "12.345 BHD",
    }
    news = json.loads(run(store, "invoices", "list", "--status", "new", "--json").stdout)
    assert [i["invoice_id"] for i in news] == ["INV-BHD-0003"]
    shown = run(store, "invoices", "show", "INV-JPY-0002").stdout
    assert REQUEST_IDS[1] in shown and "9.315072036854775808 ETH" in shown
    assert f"settlement {SETTLEMENTS[1][0]}: pending, 1,250,000 JPY" in shown
    detail = json.loads(run(store, "invoices", "show", "INV-JPY-0002", "--json").stdout)
    [request] = detail["payment_requests"]
    assert request["amount_received_base_units"] == str(ETH_ABOVE_2_63)
    run(store, "invoices", "show", "INV-NOPE", code=1)
    assert "no-request" in run(store, "invoices", "list", "--status", "paid", code=2).stderr


def test_audit_log_filters_by_entity_user_and_time(store: Path) -> None:
    def entries(*args: str) -> list[dict]:
        return json.loads(run(store, "audit", "log", "--json", *args).stdout)

    assert [e["action"] for e in entries("--entity", EXCEPTION_IDS[1])] == ["propose"]
    assert [e["entity_id"] for e in entries("--entity", f"payment_request:{REQUEST_IDS[2]}")] == [
        REQUEST_IDS[2]
    ]
    assert sorted(e["actor"] for e in entries("--user", "alice")) == ["alice", "cli:alice"]
    assert entries("--since", "2026-11-03", "--until", "2026-11-29") == []
    assert len(entries("--since", "2026-11-02", "--until", "2026-11-03")) == 3
    [mark] = entries("--action", "mark")
    assert (mark["changes"], mark["reason"]) == ("status: pending -> invalid", "invoice cancelled")
    bad = run(store, "audit", "log", "--since", "yesterday", code=2)
    assert "--since" in bad.stderr


def test_amount_inputs_in_token_units_or_explicit_base_units(store: Path) -> None:
    unmatched = EXCEPTION_IDS[2]  # 12.50 USDC received, no request
    for text, fragment in [
        ("12.5 ETH", "is USDC, not ETH"),
        ("1.0000001 USDC", "USDC has 6 decimals"),
        ("12500000", "say the unit"),
    ]:
        refused = run(
            store,
            "exceptions",
            "propose",
            unmatched,
            "--action",
            "refund",
            "--amount",
            text,
            code=2,
        )
        assert "--amount" in refused.stderr and fragment in " ".join(refused.stderr.split())
    made = run(
        store,
        "exceptions",
        "propose",
        unmatched,
        "--action",
        "refund",
        "--amount",
        "2.5 USDC",
        "--json",
    )
    resolution = json.loads(made.stdout)
    assert (resolution["amount_base_units"], resolution["amount_display"]) == (
        "2500000",
        "2.50 USDC",
    )
    human = run(
        store,
        "exceptions",
        "propose",
        unmatched,
        "--action",
        "refund",
        "--amount",
        "10000000 base units",
    )
    assert "refund 10.00 USDC on EX-9a8b7c6d5e4f: proposed" in " ".join(human.stdout.split())
    over = run(
        store,
        "exceptions",
        "propose",
        unmatched,
        "--action",
        "refund",
        "--amount",
        "0.000001 USDC",
        code=1,
    )  # 12.5 proposed already: nothing unresolved is left, exactly
    assert "--amount '0.000001 USDC' is 1 base units" in " ".join(over.stderr.split())


@pytest.mark.postgres
def test_the_views_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same queries (paging counts, the request-status filter, the payload search, the
    escaped actor match) on PostgreSQL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", postgres_url)
    run(tmp_path, "init")
    seed(create_engine_for(postgres_url))

    def data(*args: str) -> list | dict:
        return json.loads(run(tmp_path, *args, "--json").stdout)

    assert [i["invoice_id"] for i in data("invoices", "list", "--status", "new")] == [
        "INV-BHD-0003"
    ]
    assert len(data("invoices", "list", "--status", "no-request")) == 0
    shown = data("invoices", "show", "INV-JPY-0002")
    assert [s["settlement_id"] for s in shown["settlements"]] == [SETTLEMENTS[1][0]]
    assert sorted(e["actor"] for e in data("audit", "log", "--user", "alice")) == [
        "alice",
        "cli:alice",
    ]
    assert data("audit", "log", "--user", "a_ice") == []  # _ is a character, not a wildcard
    page = run(tmp_path, "exceptions", "list", "--limit", "1", "--offset", "1", "--json")
    assert [e["exception_id"] for e in json.loads(page.stdout)] == [EXCEPTION_IDS[1]]
    assert data("exceptions", "list")[1]["amount_display"] == "8.315072036854775808 ETH"


def test_a_narrow_terminal_shows_one_block_per_row(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too narrow for whole ids beside readable columns: a block of lines per row instead."""
    monkeypatch.setattr(console, "_width", 40)
    out = run(store, "settlements", "list").stdout
    for settlement_id, *_rest in SETTLEMENTS:
        assert f"settlement: {settlement_id}\n" in out
    assert "state / connection: pending sap-eu (UNKNOWN: not configured)" in out
    assert "amount: 12.345 BHD" in out
