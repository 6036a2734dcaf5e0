"""Reconciliation benchmarks: quality on the hard mix, speed against the reference matcher,
and scale (1,000,000 requests x ~1,000,000 receipts) for the engine and reconcile-files.

    python -m benchmarks.run reconciliation      # writes benchmarks/results/reconciliation.json

What is timed (inputs are already-parsed DataFrames in every case except reconcile-files):

- "matching" = the engine, `engine.run_rules`: chain ordering, gates (replay, finality, address,
  chain, asset), tolerances, the three rules with scoring, assignment by confidence band (ties
  withheld), leftovers as reason-coded exceptions, per-request status, and the structured
  explanation of every match (rule, confidence, decision, tie and late flags). This is the
  decision work the reference matcher (tests/reconciliation/reference_matcher.py) does - it
  returns matches with rule/confidence/decision, exceptions with reasons and request
  statuses - so the speed ratio compares these two, measured alternately in the same run.
- "matching plus outputs" = `result.reconcile`: the above plus fair values at block-time rates,
  balanced journals, and every published text column (evidence, one-line explanations,
  explorer links, fixed-point amounts). The 1M 15 s target is checked on this one.
- "reconcile-files" = `files.run_files`: read and validate the CSVs, reconcile, write CSVs,
  HTML and XLSX reports and the manifest, in a fresh interpreter (peak RSS measured there).

Environment knobs: RECON_BENCH_SCALE (default 1000000; the benchmark also runs 10k and 100k below
it and reports the scaling exponent), RECON_BENCH_COMPARE (default 100000),
RECON_BENCH_QUALITY (default 10000). Timings are medians of RECON_BENCH_REPEAT runs (default 3)
for the engine; the reference matcher runs RECON_BENCH_REFERENCE_REPEAT times (default 2),
interleaved with the engine runs so both see the same machine load.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciliation.engine import run_rules
from reconciliation.generate import generate, write_csvs
from reconciliation.result import reconcile

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "precision_auto_min": 0.999,
    "auto_clear_min": 0.95,
    "auto_ties_max": 0,
    "engine_1m_s_max": 15.0,
    "reconcile_files_1m_s_max": 45.0,
    "peak_memory_gb_max": 6.0,
    "speedup_vs_reference_min": 20.0,
}


def _reference():
    path = ROOT / "tests" / "reconciliation" / "reference_matcher.py"
    spec = importlib.util.spec_from_file_location("recon_reference_matcher", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.reference_reconcile


def quality(n_requests: int, seed: int = 42) -> dict:
    """Precision of auto-applied matches, matched vs auto-cleared rates, ties auto-applied."""
    scenario = generate(seed, n_requests, "hard")
    result = reconcile(scenario.requests, scenario.receipts, scenario.rates)
    truth = {
        (int(c), t, ek, r, str(a))
        for c, t, ek, r, a in scenario.truth[
            ["chain_id", "tx_hash", "event_key", "request_id", "amount"]
        ].itertuples(index=False)
    }
    auto = result.matches[result.matches["decision"] == "auto"]
    auto_keys = [
        (int(c), t, ek, r, a)
        for c, t, ek, r, a in auto[
            ["chain_id", "tx_hash", "event_key", "request_id", "amount_applied"]
        ].itertuples(index=False)
    ]
    correct = sum(k in truth for k in auto_keys)
    status = result.requests_status.merge(scenario.truth_status, on="request_id")
    clearable = status[status["clearable"]]
    cleared = clearable["status"].isin(["paid", "paid_within_tolerance", "overpaid"])
    received = set(scenario.truth["request_id"])
    touched = status[status["request_id"].isin(received)]
    tie_requests = set(status.loc[status["ambiguous"], "request_id"])
    return {
        "requests": n_requests,
        "receipts": len(scenario.receipts),
        "auto_matches": len(auto_keys),
        "precision_auto": correct / len(auto_keys) if auto_keys else 1.0,
        "auto_clear_rate_of_clearable": float(cleared.mean()),
        "matched_rate_of_paid_requests": float((touched["amount_applied"] != "0").mean()),
        "auto_applied_ties": int(auto["request_id"].isin(tie_requests).sum()),
        "proposed_matches": int((result.matches["decision"] == "proposed").sum()),
        "exceptions": len(result.exceptions),
    }


def versus_reference(n_requests: int, repeat: int, reference_repeat: int) -> dict:
    scenario = generate(7, n_requests, "hard")
    args = (scenario.requests, scenario.receipts, scenario.rates)
    reference = _reference()
    run_rules(*args)  # warm-up (imports, caches), not timed
    engine_times, rules_times, reference_times = [], [], []
    for round_no in range(max(repeat, reference_repeat)):
        if round_no < repeat:
            start = time.perf_counter()
            run_rules(*args)
            rules_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            reconcile(*args)
            engine_times.append(time.perf_counter() - start)
        if round_no < reference_repeat:
            start = time.perf_counter()
            reference(*args)
            reference_times.append(time.perf_counter() - start)
    reference_s = statistics.median(reference_times)
    engine_s = statistics.median(engine_times)
    rules_s = statistics.median(rules_times)
    return {
        "requests": n_requests,
        "receipts": len(scenario.receipts),
        "matching_median_s": round(rules_s, 3),
        "matching_plus_outputs_median_s": round(engine_s, 3),
        "reference_median_s": round(reference_s, 3),
        "reference_runs": len(reference_times),
        "speedup_matching": round(reference_s / rules_s, 1),
        "speedup_matching_plus_outputs": round(reference_s / engine_s, 1),
    }


_OWN_PEAK = """
import json as _json, resource as _resource
print(_json.dumps({"peak_rss_kb": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss}))
"""


def _child(code: str) -> dict:
    """Run code in a fresh interpreter; it prints JSON. Adds the peak RSS of *that* process,
    read inside it (RUSAGE_CHILDREN in the parent is the maximum over every child so far)."""
    proc = subprocess.run(
        [sys.executable, "-c", code + _OWN_PEAK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    *_, result, peak = proc.stdout.strip().splitlines()
    data = json.loads(result)
    data["peak_rss_gb"] = round(json.loads(peak)["peak_rss_kb"] / 1e6, 2)
    return data


def scale(n_requests: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        paths = write_csvs(generate(11, n_requests, "hard"), Path(tmp) / "in")
        engine_code = f"""
import json, time, statistics
from pathlib import Path
from reconciliation.inputs import read_requests, read_receipts, read_rates
from reconciliation.engine import run_rules
from reconciliation.result import reconcile
rq = read_requests(Path({str(paths["requests"])!r}))
rc = read_receipts(Path({str(paths["receipts"])!r}))
rt = read_rates(Path({str(paths["rates"])!r}), 18)
rules, full = [], []
for _ in range({repeat}):
    t = time.perf_counter(); run_rules(rq, rc, rt); rules.append(time.perf_counter() - t)
    t = time.perf_counter(); reconcile(rq, rc, rt); full.append(time.perf_counter() - t)
print(json.dumps({{"receipts": len(rc), "rules_median_s": statistics.median(rules),
                  "engine_median_s": statistics.median(full)}}))
"""
        engine = _child(engine_code)
        files_code = f"""
import json, time
from pathlib import Path
from reconciliation.files import run_files
t = time.perf_counter()
run_files(Path({str(paths["requests"])!r}), Path({str(paths["receipts"])!r}),
          Path({tmp!r}) / "out", rates_path=Path({str(paths["rates"])!r}))
print(json.dumps({{"reconcile_files_s": time.perf_counter() - t}}))
"""
        files = _child(files_code)
        csv_only_code = f"""
import json, time
from pathlib import Path
from reconciliation.files import run_files
t = time.perf_counter()
run_files(Path({str(paths["requests"])!r}), Path({str(paths["receipts"])!r}),
          Path({tmp!r}) / "out-csv", rates_path=Path({str(paths["rates"])!r}), reports=False)
print(json.dumps({{"reconcile_files_csv_s": time.perf_counter() - t}}))
"""
        csv_only = _child(csv_only_code)
        duckdb_code = f"""
import json
from pathlib import Path
from benchmarks.duckdb_peer import run_pipeline
print(json.dumps(run_pipeline(Path({str(paths["requests"])!r}),
                              Path({str(paths["receipts"])!r}), Path({tmp!r}) / "out-duckdb")))
"""
        duck = _child(duckdb_code)
    return {
        "requests": n_requests,
        "receipts": engine["receipts"],
        "rules_median_s": round(engine["rules_median_s"], 2),
        "engine_median_s": round(engine["engine_median_s"], 2),
        # the two halves of the engine, separately: deciding matches, then publishing them
        # (fair values, journals, text columns); medians of separate runs, so approximate
        "matching_s": round(engine["rules_median_s"], 2),
        "publishing_s": round(engine["engine_median_s"] - engine["rules_median_s"], 2),
        "engine_peak_rss_gb": engine["peak_rss_gb"],
        "reconcile_files_s": round(files["reconcile_files_s"], 2),
        "reconcile_files_peak_rss_gb": files["peak_rss_gb"],
        # the issue-15 peer, same CSVs, same run: CSV outputs only (--no-reports) vs DuckDB
        "reconcile_files_csv_only_s": round(csv_only["reconcile_files_csv_s"], 2),
        "reconcile_files_csv_only_peak_rss_gb": csv_only["peak_rss_gb"],
        "reports_s": round(files["reconcile_files_s"] - csv_only["reconcile_files_csv_s"], 2),
        "duckdb_pipeline_s": round(duck["duckdb_pipeline_s"], 2),
        "duckdb_peak_rss_gb": duck["peak_rss_gb"],
        "time_vs_duckdb": round(csv_only["reconcile_files_csv_s"] / duck["duckdb_pipeline_s"], 2),
        "memory_vs_duckdb": round(csv_only["peak_rss_gb"] / max(duck["peak_rss_gb"], 0.01), 2),
    }


def _exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Least-squares slope of log(time) over log(size): 1.0 is linear."""
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds, strict=True) if t > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return round(num / den, 2) if den else None


def scaling(steps: list[dict]) -> dict:
    """Time and memory at each size, and the exponent of time and memory over size."""
    sizes = [s["requests"] for s in steps]
    figures = ("matching_s", "publishing_s", "reconcile_files_s", "reconcile_files_peak_rss_gb")
    return {
        "sizes": sizes,
        **{key: [s[key] for s in steps] for key in figures},
        "exponents": {key: _exponent(sizes, [s[key] for s in steps]) for key in figures},
    }


def run() -> dict:
    repeat = int(os.environ.get("RECON_BENCH_REPEAT", "3"))
    q = quality(int(os.environ.get("RECON_BENCH_QUALITY", "10000")))
    v = versus_reference(
        int(os.environ.get("RECON_BENCH_COMPARE", "100000")),
        repeat,
        int(os.environ.get("RECON_BENCH_REFERENCE_REPEAT", "2")),
    )
    top = int(os.environ.get("RECON_BENCH_SCALE", "1000000"))
    sizes = [n for n in (10_000, 100_000) if n < top] + [top]
    steps = [scale(n, repeat) for n in sizes]
    s = steps[-1]
    checks = {
        "precision_auto": q["precision_auto"] >= TARGETS["precision_auto_min"],
        "auto_clear": q["auto_clear_rate_of_clearable"] >= TARGETS["auto_clear_min"],
        "no_auto_ties": q["auto_applied_ties"] <= TARGETS["auto_ties_max"],
        "speedup_vs_reference_matching": v["speedup_matching"]
        >= TARGETS["speedup_vs_reference_min"],
        "engine_1m_matching": s["rules_median_s"] <= TARGETS["engine_1m_s_max"],
        "engine_1m_matching_plus_outputs": s["engine_median_s"] <= TARGETS["engine_1m_s_max"],
        "reconcile_files_1m": s["reconcile_files_s"] <= TARGETS["reconcile_files_1m_s_max"],
        "peak_memory": max(s["engine_peak_rss_gb"], s["reconcile_files_peak_rss_gb"])
        <= TARGETS["peak_memory_gb_max"],
    }
    return {
        "quality_hard_mix": q,
        "versus_reference": v,
        "scale": s,
        "scaling": scaling(steps),
        "targets": TARGETS,
        "checks": checks,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
