"""Invoice import under hostile input and concurrency (issue 9, points 2 and 3).

The wide net is the fuzz corpus in ``tests/fuzz``; here each finding has its own small test:
questionable values refused by field, the store's column lengths enforced before writing,
long paths stored, and the same file imported twice at once ending with one copy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.imports import read_invoice_file
from paybridge.invoices import store_invoices
from paybridge.store.db import session_factory, transaction
from paybridge.store.models import Invoice

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
HEADER = "invoice_id,customer_id,amount,currency,chain,asset,due_date"


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "invoices.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("A,C,1e3,USD,anvil,USDC,", "amount"),
        ("A,C,1_000,USD,anvil,USDC,", "amount"),
        ("A,C,\u0661\u0660\u0660,USD,anvil,USDC,", "amount"),  # Arabic-Indic 100
        ("A,C,\uff11\uff10\uff10,USD,anvil,USDC,", "amount"),  # full-width 100
        ("A,C," + "9" * 5000 + ",USD,anvil,USDC,", "amount"),
        ("A,C,10,USD,anvil,USDC,20261215", "due_date"),
        ("A,C,10,USD,anvil,USDC,2026-W01-1", "due_date"),
        ("A\x1b[31m,C,10,USD,anvil,USDC,", "invoice_id"),
        ("A,C" + "x" * 200 + ",10,USD,anvil,USDC,", "customer_id"),
    ],
)
def test_questionable_csv_values_are_refused_by_field(
    tmp_path: Path, config, row: str, field: str
) -> None:
    parsed = read_invoice_file(_csv(tmp_path, [row]), config)
    assert parsed.records == []
    assert [(r.line, r.field) for r in parsed.rejections] == [(2, field)]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ('"invoice_id": {"a": 1}', "invoice_id"),  # was stored as "{'a': 1}"
        ('"invoice_id": ["INV-1"]', "invoice_id"),
        ('"invoice_id": "INV\\u00001"', "invoice_id"),
        ('"invoice_id": "A", "amount": "1.00"', "amount"),  # amount twice: which one?
        ('"invoice_id": "A", "amount": ' + "7" * 5000, "amount"),
        ('"invoice_id": "A", "erp_system": "' + "e" * 33 + '"', "erp_system"),
        ('"invoice_id": "' + "I" * 129 + '"', "invoice_id"),
    ],
)
def test_questionable_json_values_are_refused_by_field(
    tmp_path: Path, config, record: str, field: str
) -> None:
    good = '"customer_id": "C", "amount": "10.00", "currency": "USD", "chain": "anvil"'
    path = tmp_path / "invoices.json"
    path.write_text(f'[{{{good}, "asset": "USDC", {record}}}]', encoding="utf-8")
    parsed = read_invoice_file(path, config)
    assert parsed.records == []
    assert [(r.line, r.unit, r.field) for r in parsed.rejections] == [(1, "record", field)]


@pytest.mark.postgres
def test_a_long_path_is_stored_by_its_tail(store: Engine, config, tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["d" * 60] * 5)
    deep.mkdir(parents=True)
    path = _csv(deep, ["INV-L,C,10.00,USD,anvil,USDC,"])
    assert len(str(path)) > 256
    with transaction(store) as session:  # PostgreSQL refused the whole file: varchar(256)
        fresh, _ = store_invoices(session, read_invoice_file(path, config).records, str(path))
    assert len(fresh) == 1
    with store.connect() as conn:
        source = conn.scalar(sa.select(Invoice.source))
    assert len(source) == 256 and source.endswith("/invoices.csv")


@pytest.mark.postgres
def test_a_second_import_of_the_same_records_waits_and_finds_them(
    store: Engine, make_invoice
) -> None:
    """The second import looks before the first commits, then inserts: one copy, no error."""
    records = [make_invoice(n) for n in range(50)]
    first = session_factory(store)()
    first.begin()
    inserted, _ = store_invoices(first, records, source="first.csv")
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with transaction(store) as session:
                outcome["result"] = store_invoices(session, records, source="second.csv")
        except Exception as exc:  # the old code: IntegrityError
            outcome["error"] = exc

    worker = threading.Thread(target=second)
    worker.start()
    time.sleep(2)  # the second has looked (nothing committed yet) and waits on the first's rows
    first.commit()
    first.close()
    worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    fresh, already = outcome["result"]  # type: ignore[misc]
    assert (len(inserted), len(fresh), already) == (50, 0, 50)
    with store.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 50


@pytest.mark.postgres
def test_two_processes_import_the_same_file_at_once(store: Engine, tmp_path: Path) -> None:
    rows = [f"INV-{n},C{n % 9},{n + 1}.00,USD,anvil,USDC,2026-12-31" for n in range(3000)]
    path = _csv(tmp_path, rows)
    env = {
        "PATH": "/usr/bin:/bin",
        "PAYBRIDGE_DATABASE_URL": store.url.render_as_string(hide_password=False),
    }
    command = [PAYBRIDGE, "invoices", "import", str(path), "--json"]
    procs = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    for code, _out, err in results:
        assert code == 0, err.decode()[-2000:]
        assert b"Traceback" not in err and b"IntegrityError" not in err
    summaries = [json.loads(out) for _, out, _ in results]
    assert sum(s["imported"] for s in summaries) == 3000  # each invoice stored by one of them
    assert all(s["imported"] + s["already_imported"] == 3000 for s in summaries)
    with store.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 3000
