"""Importing invoices keeps the valid records and names line and field of every bad one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.imports import ImportFileError, read_invoice_file
from paybridge.invoices import store_invoices
from paybridge.store.db import transaction
from paybridge.store.models import Invoice

CSV = """invoice_id,customer_id,amount,currency,chain,asset,due_date
INV-1,C1,100.00,USD,anvil,USDC,2026-12-31
,C1,5.00,USD,anvil,USDC,
INV-3,C1,-4.00,USD,anvil,USDC,
INV-4,C1,0,USD,anvil,USDC,
INV-5,C1,10,XXX,anvil,USDC,
INV-6,C1,10.001,USD,anvil,USDC,
INV-7,C1,10,USD,anvil,WBTC,
INV-8,C1,10,USD,anvil,USDC,
INV-8,C2,11,USD,anvil,USDC,
INV-10,C1,10,USD,anvil,USDC,31/12/2026
INV-11,C2,0.25,USD,anvil,ETH,
"""

EXPECTED = {
    (3, None, "invoice_id"),
    (4, "INV-3", "amount"),
    (5, "INV-4", "amount"),
    (6, "INV-5", "currency"),
    (7, "INV-6", "amount"),
    (8, "INV-7", "asset"),
    (9, "INV-8", "invoice_id"),
    (10, "INV-8", "invoice_id"),
    (11, "INV-10", "due_date"),
}


def test_csv_rejections_name_line_and_field(tmp_path: Path, config) -> None:
    path = tmp_path / "invoices.csv"
    path.write_text(CSV)
    parsed = read_invoice_file(path, config)
    assert {(r.line, r.invoice_id, r.field) for r in parsed.rejections} == EXPECTED
    assert [r.invoice_id for r in parsed.records] == ["INV-1", "INV-11"]
    six = next(r for r in parsed.rejections if r.invoice_id == "INV-6")
    assert "more decimals than USD" in six.message


def test_json_import_and_float_amounts(tmp_path: Path, config) -> None:
    path = tmp_path / "invoices.json"
    path.write_text(
        json.dumps(
            {
                "invoices": [
                    {
                        "invoice_id": "J1",
                        "customer_id": "C",
                        "amount": "12.50",
                        "currency": "USD",
                        "chain": "anvil",
                        "asset": "USDC",
                    },
                    {
                        "invoice_id": "J2",
                        "customer_id": "C",
                        "amount": 0.1,
                        "currency": "USD",
                        "chain": "anvil",
                        "asset": "USDC",
                    },
                    {
                        "invoice_id": "J3",
                        "customer_id": "C",
                        "amount": "1000",
                        "currency": "JPY",
                        "chain": "anvil",
                        "asset": "USDC",
                    },
                ]
            }
        )
    )
    parsed = read_invoice_file(path, config)
    assert [r.invoice_id for r in parsed.records] == ["J1"]
    assert {(r.line, r.field) for r in parsed.rejections} == {(2, "amount"), (3, "currency")}


def test_valid_records_are_stored_once(tmp_path: Path, config, store: Engine) -> None:
    path = tmp_path / "invoices.csv"
    path.write_text(CSV)
    parsed = read_invoice_file(path, config)
    for expected_new in (2, 0):  # re-importing the same file adds nothing
        with transaction(store) as session:
            fresh, _already = store_invoices(session, parsed.records, source=path.name)
        assert len(fresh) == expected_new
    with transaction(store) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 2


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("a.csv", "invoice_id,amount\nX,1\n", "missing column"),
        ("a.txt", "x", "unsupported"),
        ("a.json", "{oops", "invalid JSON"),
    ],
)
def test_unreadable_files_fail_as_a_whole(
    tmp_path: Path, config, name: str, content: str, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportFileError, match=fragment):
        read_invoice_file(path, config)
