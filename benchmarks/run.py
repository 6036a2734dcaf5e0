"""`make bench`: run every ``benchmarks/*_bench.py`` and write its JSON to benchmarks/results/.

Each module exposes ``run() -> dict``; figures are medians (and ratios) measured in one run,
because machines here are noisy. ``python -m benchmarks.run addresses requests`` runs a subset.
Every result carries the machine's load average before and after it, so a figure measured on
a busy machine says so; the README's table of latest results is rewritten from the JSON files
(``benchmarks/table.py``).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def main(names: list[str]) -> int:
    from paybridge.audit.keys import KeyRing, use_ring

    use_ring(KeyRing.generate("benchmark"))  # benchmarks that audit sign with a throwaway key
    RESULTS.mkdir(exist_ok=True)
    modules = sorted(p.stem for p in HERE.glob("*_bench.py"))
    chosen = [m for m in modules if not names or m.removesuffix("_bench") in names]
    failed = 0
    for name in chosen:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        load_before = [round(x, 2) for x in os.getloadavg()]
        try:
            result = importlib.import_module(f"benchmarks.{name}").run()
        except Exception as exc:  # one broken benchmark must not hide the others' results
            failed += 1
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result = {
            "benchmark": name.removesuffix("_bench"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - started, 2),
            "machine": machine(),
            "load_average_1_5_15min": {
                "before": load_before,
                "after": [round(x, 2) for x in os.getloadavg()],
            },
            **result,
        }
        out = RESULTS / f"{name.removesuffix('_bench')}.json"
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(json.dumps(result, indent=2, default=str), flush=True)
    from benchmarks.table import update_readme

    update_readme()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
