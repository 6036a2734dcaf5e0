"""Re-performance from files: read exported CSVs, reconcile, write outputs and a manifest.

Outputs are byte-identical for the same inputs and config: rows are in a fixed order, CSVs are
written by Arrow with fixed options, the XLSX zip gets fixed timestamps, SVG charts a fixed
hash salt, and the manifest holds no wall-clock time (only `as_of`, derived from the inputs).
Outputs are written to a staging folder beside `out` and moved in at the end, manifest last
(`pack.py`), so a run that fails leaves the previous pack as it was. Text cells are made safe
for spreadsheets (`safe_text.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.engine import ENGINE_VERSION, run_rules
from paybridge_reconciliation.inputs import read_rates, read_receipts, read_requests
from paybridge_reconciliation.memory import give_back_memory, share_one_heap
from paybridge_reconciliation.output_file import HashedOutput
from paybridge_reconciliation.pack import staged_pack
from paybridge_reconciliation.result import (
    ReconResult,
    publish,
    publish_tables,
    published_only,
)
from paybridge_reconciliation.safe_text import recover_array, safe_table

OUTPUT_TABLES = {
    "matches.csv": "matches",
    "exceptions.csv": "exceptions",
    "requests_status.csv": "requests_status",
    "journals.csv": "journals",
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: rows per batch the CSV writer formats at a time. Arrow's default (1,024) spends a third of
#: the journals' writing time on per-batch work (casting each dictionary column); 8,192 rows
#: wrote the 1M-request outputs in 1.27 s against 1.66 s, and larger batches were slower again
#: (the batch's text no longer stays in cache). The bytes written are the same.
CSV_BATCH_ROWS = 8192


def write_csv(frame: pd.DataFrame, path: Path) -> str:
    """Write the frame as CSV and return the file's sha256. Text cells made safe for
    spreadsheets (safe_text); numeric columns stay numbers. The file is on disk when this
    returns, and hashed on the way there (`HashedOutput`)."""
    table = safe_table(pa.Table.from_pandas(frame, preserve_index=False))
    options = pacsv.WriteOptions(
        include_header=True, quoting_style="needed", batch_size=CSV_BATCH_ROWS
    )
    with HashedOutput(path) as sink:
        pacsv.write_csv(table, sink, write_options=options)
    return sink.hexdigest()


def run_files(
    requests_path: Path,
    receipts_path: Path,
    out: Path,
    rates_path: Path | None = None,
    config_path: Path | None = None,
    reports: bool = True,
    step: Callable[[str], None] | None = None,
    tie_outs_path: Path | None = None,
    resolutions_path: Path | None = None,
) -> dict:
    """Reconcile exported files into `out`; returns the manifest (also written).

    ``tie_outs_path`` / ``resolutions_path``: the tie-outs and manual resolutions a store pack
    exported beside its inputs, shown in the reports (and hashed in the manifest).

    Writing each output table runs on a background thread, which hashes the bytes on their
    way to the file and writes them to disk a slice at a time (`output_file.HashedOutput`), and
    hashing the inputs (and the reports) on another (Arrow's CSV writer and hashlib release the
    GIL), beside reading, matching and publishing on this one; the receipts are read beside the
    requests. Without reports each table is written as soon as it is built and then let go, so
    at most about one output table is held at a time."""
    note = step or (lambda _msg: None)
    share_one_heap()  # before the inputs are read
    config = ReconConfig.from_toml(config_path) if config_path else ReconConfig()
    given = {
        "requests": requests_path,
        "receipts": receipts_path,
        "tie_outs": tie_outs_path,
        "resolutions": resolutions_path,
        "rates": rates_path,
        "config": config_path,
    }
    inputs = {name: path for name, path in given.items() if path is not None}
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-writer") as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-hasher") as hasher,
    ):
        input_hashes = {name: hasher.submit(sha256_file, Path(p)) for name, p in inputs.items()}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-reader") as reader:
            # the two files are read and validated side by side (Arrow releases the GIL);
            # a bad requests file is still reported first, as when read one after the other
            receipts_read = reader.submit(read_receipts, receipts_path)
            note("reading requests")
            requests = read_requests(requests_path)
            note("reading receipts")
            receipts = receipts_read.result()
        rates = None
        if rates_path is not None:
            note("reading rates")
            rates = read_rates(rates_path, config.rate_scale)
        note("matching")  # the two halves timed apart by the benchmark (its step marks)
        frames = published_only(run_rules(requests, receipts, rates, config))
        del requests, receipts  # the frames hold what publishing needs
        give_back_memory(len(frames.requests) + len(frames.receipts))
        with staged_pack(out) as staging:
            written: dict[str, Future[str]] = {}  # each table's sha256 once written, by file
            counts: dict[str, int] = {}

            def emit(attr: str, frame: pd.DataFrame) -> None:
                counts[attr] = len(frame)
                if attr == "matches":
                    counts["matches_auto"] = int((frame["decision"] == "auto").sum())
                for earlier in written.values():  # one table in the writer at a time: when
                    earlier.result()  # writing lags, tables must not queue up (peak memory)
                name = TABLE_FILES[attr]
                written[name] = writer.submit(_write, [frame], staging / name)
                give_back_memory(len(frame))  # what building it freed, before the next

            note("publishing")
            if reports:
                result = publish(frames, rates, config)
                del frames
                for attr in OUTPUT_TABLES.values():
                    emit(attr, getattr(result, attr))
                as_of = result.as_of
            else:
                as_of = frames.as_of
                # totals: reports only; not parallel: the writer and hasher have the other core
                publish_tables(frames, rates, config, emit, totals=False, parallel=False)
                del frames
            outputs = dict(written)
            if reports:
                for table in written.values():  # tables written before the reports are built: the
                    table.result()  # writer's Arrow copies are gone by then (peak memory)
                note("writing reports")
                for name in _write_reports(
                    result, config, rates, staging, tie_outs_path, resolutions_path
                ):
                    outputs[name] = hasher.submit(sha256_file, staging / name)
            note("writing tables")
            manifest = manifest_from(
                as_of,
                config,
                {name: (Path(inputs[name]).name, h.result()) for name, h in input_hashes.items()},
                {name: h.result() for name, h in outputs.items()},
                manifest_counts(counts),
            )
            text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
            (staging / "manifest.json").write_text(text)
    return manifest


TABLE_FILES = {attr: name for name, attr in OUTPUT_TABLES.items()}


def _write_reports(
    result: ReconResult,
    config: ReconConfig,
    rates: pd.DataFrame | None,
    folder: Path,
    tie_outs_path: Path | None,
    resolutions_path: Path | None,
) -> list[str]:
    """The report files written into ``folder``, by name; tokens named in the rate file are
    shown with its decimals. Imported here: a run without reports never loads their libraries."""
    from paybridge_reconciliation.report_labels import ReportLabels
    from paybridge_reconciliation.reports import write_reports

    labels = ReportLabels()
    if rates is not None:
        known = rates[["chain_id", "asset", "decimals"]].drop_duplicates()
        labels = labels.with_decimals(known.itertuples(index=False))
    return write_reports(
        result,
        config,
        folder,
        tie_outs=read_text_table(tie_outs_path),
        resolutions=read_text_table(resolutions_path),
        labels=labels,
    )


def _write(box: list[pd.DataFrame], path: Path) -> str:
    """Write the one frame in ``box`` and return the file's sha256; the frame is let go once
    written (the box is its only other reference, beside the caller's, which lets go as soon
    as it has handed it over); then what this thread freed is given back."""
    rows = len(box[0])
    digest = write_csv(box.pop(), path)
    give_back_memory(rows)
    return digest


def read_text_table(path: Path | None) -> pd.DataFrame | None:
    """A small CSV read as text (tie-outs, manual resolutions): shown, never computed on."""
    if path is None:
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in frame.columns:  # written spreadsheet-safe (write_csv): the original text back
        texts = pa.array(frame[column].to_numpy(dtype=object), pa.string())
        frame[column] = recover_array(texts).to_numpy(zero_copy_only=False)
    return frame


def build_manifest(
    result: ReconResult,
    config: ReconConfig,
    inputs: dict[str, tuple[str, str]],
    outputs: dict[str, str],
) -> dict:
    """The manifest of a pack from hashes already taken (each file hashed once, most on their
    way out: `write_csv`): inputs as (file name shown, sha256), outputs' sha256 by name."""
    return manifest_from(
        result.as_of,
        config,
        inputs,
        outputs,
        manifest_counts(
            {attr: len(getattr(result, attr)) for attr in OUTPUT_TABLES.values()}
            | {"matches_auto": int((result.matches["decision"] == "auto").sum())}
        ),
    )


def manifest_counts(rows: dict[str, int]) -> dict[str, int]:
    """The manifest's counts from the rows of each published table (by its ReconResult name)
    and of auto-applied matches (``matches_auto``)."""
    return {
        "requests": rows["requests_status"],
        "matches": rows["matches"],
        "matches_auto": rows["matches_auto"],
        "exceptions": rows["exceptions"],
        "journal_lines": rows["journals"],
    }


def manifest_from(
    as_of: pd.Timestamp,
    config: ReconConfig,
    inputs: dict[str, tuple[str, str]],
    outputs: dict[str, str],
    counts: dict[str, int],
) -> dict:
    """The manifest from hashes already taken: inputs as (file name shown, sha256), outputs'
    sha256 by name, row counts."""
    return {
        "engine": "paybridge.reconciliation",
        "engine_version": ENGINE_VERSION,
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": {
            name: {"file": file, "sha256": digest}
            for name, (file, digest) in sorted(inputs.items())
        },
        "config_sha256": hashlib.sha256(config.canonical_json().encode()).hexdigest(),
        "outputs": dict(sorted(outputs.items())),
        "counts": counts,
    }
