"""Output files hashed on the way out and written to disk a slice at a time
(output_file.HashedOutput): the bytes are exactly what Arrow's writer makes, the digest is the
file's, every slice is written back and the whole file synced at close, and the file is
created as open() would create it."""

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


def _write_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes, str]:
    """Arrow's CSV of 20,000 rows through a HashedOutput with 4 KiB slices (about 12 KB a
    write: every write passes a slice), and the bytes Arrow's own writer makes."""
    monkeypatch.setattr(output_file, "SLICE_BYTES", 4096)
    table = _table(20_000)
    options = pacsv.WriteOptions(quoting_style="needed", batch_size=256)
    expected = pa.BufferOutputStream()
    pacsv.write_csv(table, expected, write_options=options)
    path = tmp_path / "t.csv"
    with HashedOutput(path) as sink:
        pacsv.write_csv(table, sink, write_options=options)
    return path.read_bytes(), expected.getvalue().to_pybytes(), sink.hexdigest()


def test_bytes_and_digest_match_arrows_writer_and_every_slice_reaches_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if output_file.SYNC_FILE_RANGE is None:
        pytest.skip("no sync_file_range in this C library (the fallback is tested below)")
    ranges: list[tuple[int, int, int]] = []
    syncs: list[int] = []
    real_range, real_sync = output_file._sync_range, output_file._sync
    monkeypatch.setattr(
        output_file,
        "_sync_range",
        lambda fd, start, length, flags: (
            ranges.append((start, length, flags)),
            real_range(fd, start, length, flags),
        ),
    )
    monkeypatch.setattr(output_file, "_sync", lambda fd: (syncs.append(fd), real_sync(fd)))

    written, expected, digest = _write_slices(tmp_path, monkeypatch)

    assert written == expected
    assert digest == hashlib.sha256(expected).hexdigest()
    started = [(start, length) for start, length, flags in ranges if flags == output_file.WRITE]
    waited = [(start, length) for start, length, flags in ranges if flags != output_file.WRITE]
    # the 78 full batches each end a slice: their writes are started in order, back to back
    # from the first byte, and each is waited for once the next one is started ...
    assert len(started) == 20_000 // 256
    assert [start for start, _ in started] == [0] + [s + n for s, n in started[:-1]]
    assert waited == started[:-1]
    assert all(
        flags == output_file.WAIT_BEFORE | output_file.WRITE | output_file.WAIT_AFTER
        for _, _, flags in ranges
        if flags != output_file.WRITE
    )
    # ... and the last slice in flight and the last 32 rows are made durable by one sync
    assert len(syncs) == 1


def test_without_sync_file_range_each_slice_is_synced_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real_sync = output_file._sync
    monkeypatch.setattr(output_file, "SYNC_FILE_RANGE", None)
    monkeypatch.setattr(output_file, "_sync", lambda fd: (syncs.append(fd), real_sync(fd)))

    written, expected, digest = _write_slices(tmp_path, monkeypatch)

    assert written == expected
    assert digest == hashlib.sha256(expected).hexdigest()
    assert len(syncs) == 20_000 // 256 + 1  # one per full batch's slice, one at close


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
