"""`paybridge invoices import` against hostile files, on SQLite and PostgreSQL.

The committed corpus (``tests/fuzz/corpus/``, written by ``make_corpus.py`` with the expected
outcome of each file in ``expected.json``) runs in one process per database through the CLI
app; a handful of the worst cases run as real ``paybridge`` processes; hypothesis adds random
CSV and JSON files. Each run must end with exit 0, 1 or 2, a message that names the problem,
no traceback, and the store holding exactly the file's valid records (or none of them).
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from paybridge.input_files import MAX_FILE_BYTES
from paybridge.store.models import Invoice

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
EXPECTED: dict[str, dict] = json.loads((HERE / "expected.json").read_text())
PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
HEADER = "invoice_id,customer_id,amount,currency,chain,asset,due_date"

pytestmark = pytest.mark.postgres


def _ids(store: Engine) -> set[str]:
    with store.connect() as conn:
        return set(conn.scalars(sa.select(Invoice.invoice_id)))


def _url(store: Engine) -> str:
    return store.url.render_as_string(hide_password=False)


def _check(name: str, result, want: dict, new_ids: set[str]) -> str | None:  # type: ignore[no-untyped-def]
    """What is wrong with this run, or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {result.exception}"
    output = result.stdout + result.stderr
    if "Traceback" in output:
        return "traceback in the output"
    if result.exit_code != want["exit"]:
        return f"exit {result.exit_code}, expected {want['exit']}: {output[:300]}"
    if new_ids != set(want["stored"]):
        return f"stored {sorted(new_ids)[:5]}, expected {want['stored']}"
    if result.exit_code == 2:
        flat = re.sub(r"\s+", "", result.stderr)
        if "Error:" not in result.stderr or re.sub(r"\s+", "", name) not in flat:
            return f"no error naming the file: {result.stderr[:300]}"
        return None
    summary = json.loads(result.stdout)
    if result.exit_code == 1:
        rejected = summary["rejected"]
        if not rejected or not all(r["line"] > 0 and r["field"] and r["message"] for r in rejected):
            return f"rejections without line, field or message: {rejected}"
    return None


def test_corpus_through_the_cli(cli, store: Engine) -> None:  # type: ignore[no-untyped-def]
    assert len(EXPECTED) >= 100
    outcomes: Counter[int] = Counter()
    failures: dict[str, str] = {}
    for name, want in sorted(EXPECTED.items()):
        before = _ids(store)
        result = cli(CORPUS / name)
        outcomes[result.exit_code] += 1
        problem = _check(name, result, want, _ids(store) - before)
        if problem:
            failures[name] = problem
    print(f"\n{len(EXPECTED)} hostile files on {store.dialect.name}: exit codes {dict(outcomes)}")
    assert not failures, "\n".join(f"{n}: {p}" for n, p in failures.items())


def test_files_that_are_not_regular_or_too_large(cli, tmp_path: Path, store: Engine) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it would block forever
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: takes no disk space
        handle.truncate(MAX_FILE_BYTES + 1)
    for path, fragment in ((fifo, "not a regular file"), (huge, "larger than the limit")):
        result = cli(path)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert fragment in result.stderr
    assert _ids(store) == set()


# As a user meets them: the installed script, a real process, text output. Only two cases,
# because a process takes seconds to start; the corpus above covers the rest in-process.
SUBPROCESS_CASES = (
    "json_deep_100000.json",  # was a segfault (exit 139), which only a real process shows
    "csv_id_escape.csv",  # an escape sequence in a rejected id, printed in the rejection table
)


def test_worst_cases_as_real_processes(store: Engine, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PAYBRIDGE_DATABASE_URL": _url(store)}
    for name in SUBPROCESS_CASES:
        before = _ids(store)
        done = subprocess.run(
            [PAYBRIDGE, "invoices", "import", str(CORPUS / name)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        assert done.returncode == EXPECTED[name]["exit"], (name, done.returncode, output[-500:])
        assert "Traceback" not in output, name
        assert "\x1b" not in output, name  # no escape sequence from the file reaches the terminal
        assert ("Error:" in output) if done.returncode == 2 else ("were rejected" in output)
        assert _ids(store) - before == set(EXPECTED[name]["stored"]), name


# Random files: hostile characters where fields go, odd quoting, broken structure.
_HOSTILE = st.sampled_from(
    [*"\x00\x1b\x07\r\n\t\"',;[]{}\\=+-@", "\u0661", "\uff11", "\u202e", "\u2028", "\ud800"]
)
_FIELD = st.one_of(
    st.text(alphabet=st.one_of(_HOSTILE, st.sampled_from(string.printable)), max_size=12),
    st.sampled_from(["10.00", "1e3", "1_000", "0", "-1", "9" * 60, "2026-12-31", "20261215"]),
)
_JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), _FIELD),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["invoice_id", "amount", "x"]), children, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = ("invoice_id", "customer_id", "amount", "currency", "chain", "asset", "due_date")


def _csv_text(rows: list[list[str]]) -> str:
    lines = [HEADER, "OK-H,C1,10.00,USD,anvil,USDC,"]
    lines += [",".join(row) for row in rows]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    csv_rows=st.lists(st.lists(_FIELD, min_size=0, max_size=9), max_size=4),
    json_records=st.lists(
        st.one_of(st.fixed_dictionaries({f: _JSON_VALUE for f in _FIELDS}), _JSON_VALUE),
        max_size=3,
    ),
)
def test_random_files_never_crash_or_half_write(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, store: Engine, csv_rows: list[list[str]], json_records: list
) -> None:
    csv_path, json_path = tmp_path / "random.csv", tmp_path / "random.json"
    csv_path.write_bytes(_csv_text(csv_rows).encode("utf-8", "surrogatepass"))
    body = {"invoices": [{"invoice_id": "OK-J", **_good()}, *json_records]}
    json_path.write_text(json.dumps(body, allow_nan=True), encoding="utf-8")
    for path in (csv_path, json_path):
        before = _ids(store)
        result = cli(path)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code in (0, 1, 2)
        new = _ids(store) - before
        if result.exit_code == 2:
            assert new == set() and "Error:" in result.stderr
            continue
        summary = json.loads(result.stdout)
        assert len(new) == summary["imported"]  # what it says it stored, it stored
        assert all(i.isprintable() and len(i) <= 128 for i in new)
        assert (result.exit_code == 1) == bool(summary["rejected"])
        with store.begin() as conn:  # the next example starts from an empty store
            conn.execute(sa.delete(Invoice))


def _good() -> dict[str, str]:
    return {
        "customer_id": "C1",
        "amount": "10.00",
        "currency": "USD",
        "chain": "anvil",
        "asset": "USDC",
    }
