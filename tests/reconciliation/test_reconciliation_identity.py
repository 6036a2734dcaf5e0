"""One identity per transfer in `reconcile-files` (issue 8): a receipt is (chain id, tx hash,
event key); two transfers of one transaction are two receipts; files that only have
``log_index`` still read; a replay is ignored only when it is the very same transfer."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from paybridge.cli.main import app

TX = "0x" + "ab" * 32
T0 = "2026-01-05T10:00:00Z"
REQUEST_HEADER = (
    "request_id,customer_id,invoice_id,chain_id,asset,deposit_address,amount_due,"
    "invoice_currency,invoice_amount,created_at,expires_at,monitor_until\n"
)


def _address(n: int) -> str:
    return "0x" + f"{n:040x}"


def _requests(path: Path) -> Path:
    rows = [
        f"R{i},C1,INV-{i},1,native,{_address(i)},{i * 10**17},USD,{i * 100}.00,"
        f"2026-01-05T09:00:00Z,2026-01-05T11:00:00Z,2026-01-06T09:00:00Z\n"
        for i in (1, 2)
    ]
    path.write_text(REQUEST_HEADER + "".join(rows))
    return path


def _receipts(path: Path, key_column: str, rows: list[tuple[str, int, int]]) -> Path:
    """rows: (event key or log index, recipient number, amount), all in transaction TX."""
    header = f"chain_id,tx_hash,{key_column},block_number,block_time,asset,from_address,"
    lines = [header + "to_address,amount,status\n"]
    for key, to, amount in rows:
        lines.append(f"1,{TX},{key},100,{T0},native,{_address(99)},{_address(to)},{amount},final")
        lines[-1] += "ized\n"
    path.write_text("".join(lines))
    return path


def _run(tmp_path: Path, receipts: Path) -> tuple[list[dict], list[dict], dict[str, str]]:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "reconcile-files",
            "--requests",
            str(_requests(tmp_path / "requests.csv")),
            "--receipts",
            str(receipts),
            "--out",
            str(out),
            "--no-reports",
        ],
    )
    assert result.exit_code == 0, result.output

    def read(name: str) -> list[dict]:
        with (out / name).open(newline="") as handle:
            return list(csv.DictReader(handle))

    status = {r["request_id"]: r["status"] for r in read("requests_status.csv")}
    return read("matches.csv"), read("exceptions.csv"), status


def test_two_transfers_of_one_transaction_are_two_receipts(tmp_path: Path) -> None:
    receipts = _receipts(
        tmp_path / "receipts.csv", "event_key", [("trace:0", 1, 10**17), ("trace:1", 2, 2 * 10**17)]
    )
    matches, exceptions, status = _run(tmp_path, receipts)
    assert sorted((m["request_id"], m["tx_hash"], m["event_key"]) for m in matches) == [
        ("R1", TX, "trace:0"),
        ("R2", TX, "trace:1"),
    ]
    assert exceptions == []
    assert status == {"R1": "paid", "R2": "paid"}


def test_a_file_with_only_log_index_still_reads(tmp_path: Path) -> None:
    receipts = _receipts(
        tmp_path / "old.csv", "log_index", [("3", 1, 10**17), ("7", 2, 2 * 10**17)]
    )
    matches, exceptions, status = _run(tmp_path, receipts)
    assert sorted((m["request_id"], m["event_key"]) for m in matches) == [
        ("R1", "log:3"),
        ("R2", "log:7"),
    ]
    assert exceptions == [] and status == {"R1": "paid", "R2": "paid"}


def test_only_the_same_transfer_is_ignored_as_a_replay(tmp_path: Path) -> None:
    receipts = _receipts(
        tmp_path / "receipts.csv",
        "event_key",
        [
            ("tx", 1, 10**17),
            ("tx", 1, 10**17),  # the very same transfer again: ignored
            ("tx", 2, 2 * 10**17),  # same identity, another recipient: a person must look
        ],
    )
    matches, exceptions, status = _run(tmp_path, receipts)
    assert [(m["request_id"], m["event_key"], m["amount_applied"]) for m in matches] == [
        ("R1", "tx", str(10**17))
    ]
    assert sorted(
        (e["reason"], e["event_key"], e["amount"], e["to_address"]) for e in exceptions
    ) == [
        ("DUPLICATE_EVENT", "tx", "0", _address(1)),
        ("REPLAY_CONFLICT", "tx", str(2 * 10**17), _address(2)),
    ]
    assert status == {"R1": "paid", "R2": "open"}
