"""The auditor's pack for the store: inputs as CSV, the engine's outputs, reports and manifest,
with the latest tie-outs and the manual resolutions in the workbook."""

from __future__ import annotations

import json
from pathlib import Path

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.files import OUTPUT_TABLES, build_manifest, sha256_file, write_csv
from paybridge_reconciliation.inputs import read_rates, read_receipts, read_requests
from paybridge_reconciliation.pack import staged_pack
from paybridge_reconciliation.report_labels import ReportLabels, Token
from paybridge_reconciliation.reports import write_reports
from paybridge_reconciliation.result import reconcile
from sqlalchemy.engine import Engine

from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.config import PayBridgeConfig
from paybridge.recon_runs.export import file_hashes, load_inputs, write_inputs
from paybridge.recon_runs.resolutions import resolutions_frame
from paybridge.recon_runs.tieouts_store import latest_tie_outs
from paybridge.store.db import transaction


def export_inputs(engine: Engine, out: Path, as_of=None) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """The engine's input CSVs, for ``paybridge reconcile-files`` (re-performance)."""
    with transaction(engine) as session:
        inputs = load_inputs(session, as_of)
    return write_inputs(inputs, out)


def labels_from_config(cfg: PayBridgeConfig) -> ReportLabels:
    """Chain and token names of the configured registry, for the reports."""
    base = ReportLabels()
    chains = dict(base.chains)
    tokens = dict(base.tokens)
    for chain in cfg.chains:
        chains[chain.chain_id] = chain.name
    for asset in cfg.assets:
        chain_id = cfg.chain(asset.chain).chain_id
        key = (chain_id, asset.address.lower() if asset.address else "native")
        tokens[key] = Token(asset.symbol, asset.decimals)
    return ReportLabels(chains, tokens)


def write_report(
    engine: Engine,
    out: Path,
    config: ReconConfig | None = None,
    labels: ReportLabels | None = None,
) -> dict:
    """Inputs under ``out/inputs``; outputs, report.html/xlsx and manifest.json in ``out``.

    Staged beside ``out`` and published whole, manifest last
    (``paybridge_reconciliation.pack``): a run
    that fails leaves the previous pack as it was. The manifest carries a signed audit
    checkpoint: ``paybridge audit verify --checkpoint out/manifest.json`` later shows whether
    the log was cut short or rewritten since.
    """
    config = config or ReconConfig()
    with staged_pack(out) as staging:
        paths = export_inputs(engine, staging / "inputs")
        digests = file_hashes(paths)  # each file of the pack is hashed once
        result = reconcile(
            read_requests(paths["requests"]),
            read_receipts(paths["receipts"]),
            read_rates(paths["rates"], config.rate_scale),
            config,
        )
        outputs = {
            name: write_csv(getattr(result, attr), staging / name)
            for name, attr in OUTPUT_TABLES.items()
        }
        tie_outs = latest_tie_outs(engine)
        resolutions = resolutions_frame(engine)
        # beside the inputs, so `reconcile-files --tie-outs/--resolutions` shows them too
        for name, file, frame in (
            ("tie_outs", "tie_outs.csv", tie_outs),
            ("resolutions", "manual_resolutions.csv", resolutions),
        ):
            paths[name] = staging / "inputs" / file
            digests[name] = write_csv(frame.astype(str), paths[name])
        for name in write_reports(
            result, config, staging, tie_outs=tie_outs, resolutions=resolutions, labels=labels
        ):
            outputs[name] = sha256_file(staging / name)
        manifest = build_manifest(
            result,
            config,
            {name: (f"inputs/{paths[name].name}", digest) for name, digest in digests.items()},
            outputs,
        )
        manifest["tie_out_rows"] = len(tie_outs)
        with transaction(engine) as session:  # the audit log's state, signed, outside the DB
            manifest["audit_checkpoint"] = audit_checkpoint.take(session).to_json()
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (staging / "manifest.json").write_text(text)  # last: the pack is complete
    return manifest
