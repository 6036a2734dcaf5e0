"""The README's table of latest benchmark results, rewritten from ``benchmarks/results/*.json``.

Only the headline figures of each benchmark, each with when it was measured and the machine's
1-minute load average at the time (on a shared 2-core machine a load of 8 makes every wall-clock
figure about 4x slower: compare ratios measured in one run, not absolute figures across runs).
``python -m benchmarks.table`` rewrites the block between the markers in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
README = HERE.parent / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"

#: benchmark -> (label, dotted path into its JSON); a path missing from a result is left out
HEADLINES: dict[str, list[tuple[str, str]]] = {
    "startup": [
        ("`paybridge --help` median s", "help_median_s"),
        ("`python -c 'import typer'` median s (floor)", "import_typer_median_s"),
        ("bare interpreter median s", "python_bare_median_s"),
        ("`--help` / `import typer` (wall)", "help_over_import_typer"),
        ("`--help` CPU s (median)", "cpu_median_s.help"),
        ("`import typer` CPU s (median)", "cpu_median_s.import_typer"),
        ("`--help` speedup vs baseline", "baseline.help_speedup"),
    ],
    "requests": [
        ("SQLite requests/s (wall)", "sqlite.per_second_median"),
        ("SQLite requests per CPU-second", "sqlite.per_cpu_second_median"),
        ("SQLite baseline requests per CPU-second", "sqlite.baseline.per_cpu_second_median"),
        (
            "address derivation alone per CPU-second (floor)",
            "sqlite.derivation_only_per_cpu_second_median",
        ),
        ("PostgreSQL requests/s (wall)", "postgresql.per_second_median"),
        ("PostgreSQL requests per CPU-second (client)", "postgresql.per_cpu_second_median"),
        ("PostgreSQL", "postgresql.skipped"),
    ],
    "reconcile_store": [
        ("first run s (5,000 paid)", "first_run_s"),
        ("first run speedup vs baseline (wall)", "first_run_s_speedup_vs_baseline"),
        ("first run speedup vs baseline (CPU)", "first_run_cpu_s_speedup_vs_baseline"),
        ("peak RSS MB", "peak_rss_mb"),
    ],
    "dag_runs": [
        ("idle hour: reconcile + posting runs/day", "headline.idle_blocks"),
        ("busy hour (a payment every 3 blocks): runs/day", "headline.busy"),
        ("chain-watch runs/day (its schedule)", "scenarios.busy.per_day.chain_watch_runs"),
    ],
    "chain": [
        ("blocks (sparse chain, 2 transfers each)", "chain_head"),
        ("setup s (build or saved state)", "setup_seconds"),
        ("first build s (not cached; target 30)", "setup_parts_s.built_s"),
        ("ERC-20, 100k watched: transfers/s", "watched_100000.transfers_per_s"),
        ("ERC-20, 100k watched: blocks/s", "watched_100000.blocks_per_s"),
        ("ERC-20, 100k watched: vs raw-RPC floor", "watched_100000.throughput_vs_floor"),
        ("ERC-20, every recipient: transfers/s", "erc20_every_recipient_watched.transfers_per_s"),
        ("ERC-20, every recipient: blocks/s", "erc20_every_recipient_watched.blocks_per_s"),
        ("ERC-20, every recipient: vs floor", "erc20_every_recipient_watched.throughput_vs_floor"),
        ("native, 100k watched: transfers/s", "native_scan_watched_100000.transfers_per_s"),
        ("native, 100k watched: blocks/s", "native_scan_watched_100000.blocks_per_s"),
        ("native, 100k watched: vs floor", "native_scan_watched_100000.throughput_vs_floor"),
    ],
    "chain_dense": [
        ("blocks", "blocks"),
        ("transfers per block", "transfers_per_block"),
        ("build s", "setup_seconds"),
        ("transfers/s (traces on, all watched)", "transfers_per_s"),
        ("blocks/s", "blocks_per_s"),
        ("vs raw-RPC floor", "throughput_vs_floor"),
    ],
    "reconciliation": [
        ("largest size (requests)", "scale.requests"),
        ("matching s", "scale.matching_s"),
        ("publishing s", "scale.publishing_s"),
        ("engine with all outputs / its matching (time)", "scale.engine_all_outputs_vs_matching"),
        ("matching / pandas merge of the simple join (time)", "scale.matching_vs_pandas_merge"),
        ("reconcile-files CSV-only s (median, new folder)", "scale.reconcile_files_csv_only_s"),
        (
            "reconcile-files CSV-only s, replacing an existing pack",
            "scale.reconcile_files_csv_only_into_existing_pack_s",
        ),
        ("DuckDB pipeline s (median)", "scale.duckdb_pipeline_s"),
        ("reconcile-files CSV-only / DuckDB pipeline (time)", "scale.time_vs_duckdb"),
        ("reconcile-files CSV-only / DuckDB pipeline (CPU time)", "scale.cpu_time_vs_duckdb"),
        ("reconcile-files CSV-only / DuckDB pipeline (peak memory)", "scale.memory_vs_duckdb"),
        ("output CSV MB, ours (4 files)", "scale.output_csv_mb"),
        ("output CSV MB, DuckDB (2 files)", "scale.duckdb_output_csv_mb"),
        (
            "writing + hashing our CSVs alone / DuckDB pipeline (time)",
            "scale.writing_floor_vs_duckdb",
        ),
        ("parsing our inputs alone / DuckDB pipeline (time)", "scale.reading_floor_vs_duckdb"),
        (
            "parsing inputs + writing outputs alone / DuckDB pipeline (time)",
            "scale.reading_and_writing_floors_vs_duckdb",
        ),
        ("reports s (on their own)", "scale.reports_s"),
        (
            "memory written first, kernel s per GiB (this machine)",
            "memory_first_touch_kernel_s_per_gib.median",
        ),
        ("scaling exponent, CSV-only time", "scaling.exponents.reconcile_files_csv_only_s"),
        (
            "scaling exponent, CSV-only peak memory",
            "scaling.exponents.reconcile_files_csv_only_peak_rss_gb",
        ),
        ("scaling exponent, reconcile-files time", "scaling.exponents.reconcile_files_s"),
        ("scaling exponent, matching time", "scaling.exponents.matching_s"),
    ],
    "addresses": [("addresses/s", "median_addresses_per_s")],
    "netsuite": [("invoices synced/s", "sync_100k.invoices_per_s.median")],
    "sap": [
        ("S/4 open items synced", "sync_open_items.items"),
        ("OData requests used", "sync_open_items.odata_requests"),
        ("items/s stored (median)", "sync_open_items.items_per_s_stored.median"),
        ("settlements posted/s (median)", "posting_clean.settlements_per_s.median"),
        ("settlements/s with 30% faults", "posting_30pct_faults.settlements_per_s.median"),
    ],
    "api": [
        ("`paybridge api --workers` judged", "postgresql.workers"),
        ("create-order req/s, PostgreSQL (median, 32 conns)", "postgresql.requests_per_s"),
        ("create-order req/s, PostgreSQL, 1 worker", "postgresql.by_workers.1.requests_per_s"),
        ("create-order p99 ms, PostgreSQL", "postgresql.p99_ms"),
        ("floor peer (one INSERT) req/s, PostgreSQL", "postgresql.floor_peer.requests_per_s"),
        ("create-order vs floor, PostgreSQL", "postgresql.vs_floor"),
        ("server CPU ms/request, PostgreSQL", "postgresql.server_cpu_ms_per_request"),
        ("create-order vs before (same run), PostgreSQL", "postgresql.vs_baseline"),
        (
            "create-order vs before (same run, 1 worker), PostgreSQL",
            "postgresql.by_workers.1.vs_baseline",
        ),
        (
            "server CPU/request vs before (same run, 1 worker), PostgreSQL",
            "postgresql.by_workers.1.cpu_per_request_vs_baseline",
        ),
        ("create-order req/s, SQLite", "sqlite.requests_per_s"),
        ("create-order req/s, SQLite, 1 worker", "sqlite.by_workers.1.requests_per_s"),
        ("create-order p99 ms, SQLite", "sqlite.p99_ms"),
        ("create-order vs floor, SQLite", "sqlite.vs_floor"),
        ("webhook deliveries/s, PostgreSQL", "postgresql.webhook_deliveries_per_s"),
        ("webhook deliveries/s, SQLite", "sqlite.webhook_deliveries_per_s"),
        ("meets target (500 req/s, p99 100 ms)", "meets_target"),
    ],
    "celery": [
        ("invoices (NetSuite + SAP) and payments on anvil", "invoices"),
        ("end to end s, 1 worker", "by_workers.1.end_to_end_s"),
        ("end to end s, 2 workers", "by_workers.2.end_to_end_s"),
        ("posting s, 1 / 2 workers", "ratio_one_over_two_workers.posting_s"),
        ("end to end, 1 / 2 workers", "ratio_one_over_two_workers.end_to_end_s"),
        ("control: anvil payments (no Airflow), 1 / 2", "ratio_one_over_two_workers.payments_s"),
    ],
}


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def rows() -> list[str]:
    lines = [
        "| benchmark | figure | value | measured (UTC) | load avg (1 min) before/after |",
        "|---|---|---|---|---|",
    ]
    for path in sorted((HERE / "results").glob("*.json")):
        result = json.loads(path.read_text())
        name = result.get("benchmark", path.stem)
        load = result.get("load_average_1_5_15min")
        load_text = f"{load['before'][0]} / {load['after'][0]}" if load else "not recorded"
        when = str(result.get("finished_at", ""))[:16].replace("T", " ")
        if "error" in result:
            lines.append(f"| {name} | error | {result['error']} | {when} | {load_text} |")
            continue
        for label, dotted in HEADLINES.get(name, []):
            value = _get(result, dotted)
            if value is not None:
                lines.append(f"| {name} | {label} | {value} | {when} | {load_text} |")
    return lines


def update_readme(readme: Path = README) -> bool:
    """Rewrite the table between the markers; False when README has no markers."""
    text = readme.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + START + "\n" + "\n".join(rows()) + "\n" + END + tail)
    return True


if __name__ == "__main__":
    update_readme()
