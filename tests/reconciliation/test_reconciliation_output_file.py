"""Output files hashed on the way out and synced a slice at a time (output_file.HashedOutput):
the bytes are exactly what Arrow's writer makes, the digest is the file's, every slice is
synced, and the file is created as open() would create it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from paybridge_reconciliation import output_file
from paybridge_reconciliation.files import write_csv
from paybridge_reconciliation.output_file import HashedOutput


def _table(rows: int) -> pa.Table:
    return pa.table(
        {
            "request_id": [f"R{i:08d}" for i in range(rows)],
            "amount": [str(10**30 + i) for i in range(rows)],
            "line": list(range(rows)),
        }
    )


def test_bytes_and_digest_match_arrows_writer_across_many_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real_sync = output_file._sync
    monkeypatch.setattr(output_file, "SLICE_BYTES", 4096)
    monkeypatch.setattr(output_file, "_sync", lambda fd: (syncs.append(fd), real_sync(fd)))
    table = _table(20_000)
    options = pacsv.WriteOptions(quoting_style="needed", batch_size=256)  # ~12 KB a write
    expected = pa.BufferOutputStream()
    pacsv.write_csv(table, expected, write_options=options)
    expected_bytes = expected.getvalue().to_pybytes()

    path = tmp_path / "t.csv"
    with HashedOutput(path) as sink:
        pacsv.write_csv(table, sink, write_options=options)

    assert path.read_bytes() == expected_bytes
    assert sink.hexdigest() == hashlib.sha256(expected_bytes).hexdigest()
    # each of the 78 full batches passes the 4 KiB slice (one sync each); the last 32 rows
    # are synced at close
    assert len(syncs) == 20_000 // 256 + 1


def test_an_existing_longer_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"x" * 100_000)
    with HashedOutput(path) as sink:
        sink.write(b"short\n")
    assert path.read_bytes() == b"short\n"
    assert sink.hexdigest() == hashlib.sha256(b"short\n").hexdigest()


def test_created_with_the_umask_like_open(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        with HashedOutput(tmp_path / "private.csv"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600


def test_write_csv_returns_the_written_files_sha256(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["=cmd", "b"], "n": [1, 2]})
    digest = write_csv(frame, tmp_path / "t.csv")
    assert digest == hashlib.sha256((tmp_path / "t.csv").read_bytes()).hexdigest()
    assert (tmp_path / "t.csv").read_text().splitlines()[1].startswith('"\'=cmd"')
