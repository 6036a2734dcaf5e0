"""The auditor's pack for the store: inputs as CSV, the engine's outputs, reports and manifest,
with the latest tie-outs and the manual resolutions in the workbook."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.recon_runs.export import file_hashes, load_inputs, write_inputs
from paybridge.recon_runs.resolutions import resolutions_frame
from paybridge.recon_runs.tieouts_store import latest_tie_outs
from paybridge.store.db import transaction
from reconciliation.config import ReconConfig
from reconciliation.files import OUTPUT_TABLES, build_manifest, write_csv
from reconciliation.inputs import read_rates, read_receipts, read_requests
from reconciliation.pack import staged_pack
from reconciliation.reports import write_reports
from reconciliation.result import reconcile


def export_inputs(engine: Engine, out: Path, as_of=None) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """The engine's input CSVs, for ``paybridge reconcile-files`` (re-performance)."""
    with transaction(engine) as session:
        inputs = load_inputs(session, as_of)
    return write_inputs(inputs, out)


def write_report(engine: Engine, out: Path, config: ReconConfig | None = None) -> dict:
    """Inputs under ``out/inputs``; outputs, report.html/xlsx and manifest.json in ``out``.

    Staged beside ``out`` and published whole, manifest last (reconciliation/pack.py): a run
    that fails leaves the previous pack as it was. The manifest carries a signed audit
    checkpoint: ``paybridge audit verify --checkpoint out/manifest.json`` later shows whether
    the log was cut short or rewritten since.
    """
    config = config or ReconConfig()
    with staged_pack(out) as staging:
        paths = export_inputs(engine, staging / "inputs")
        result = reconcile(
            read_requests(paths["requests"]),
            read_receipts(paths["receipts"]),
            read_rates(paths["rates"], config.rate_scale),
            config,
        )
        for name, attr in OUTPUT_TABLES.items():
            write_csv(getattr(result, attr), staging / name)
        produced = [*OUTPUT_TABLES]
        tie_outs = latest_tie_outs(engine)
        produced += write_reports(
            result, config, staging, tie_outs=tie_outs, resolutions=resolutions_frame(engine)
        )
        manifest = build_manifest(result, config, paths, staging, produced)
        manifest["inputs"] = {
            name: {"file": f"inputs/{paths[name].name}", "sha256": digest}
            for name, digest in file_hashes(paths).items()
        }
        manifest["tie_out_rows"] = len(tie_outs)
        with transaction(engine) as session:  # the audit log's state, signed, outside the DB
            manifest["audit_checkpoint"] = audit_checkpoint.take(session).to_json()
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (staging / "manifest.json").write_text(text)  # last: the pack is complete
    return manifest
