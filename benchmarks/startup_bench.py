"""CLI start-up: median wall time of `paybridge --help` and of a light command (a real process).

Goal: under 0.5 s on an idle 2-core machine. What a command imports is asserted by
tests/core/test_cli_startup.py (independent of machine speed); this reports the time, with
the bare interpreter and `import typer` in the same run as floors (wall and CPU time: on a
shared machine the CPU figure is the steadier one).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = int(os.environ.get("PAYBRIDGE_BENCH_STARTUP_REPEATS", "7"))
GOAL_SECONDS = 0.5
PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "120"}


def _median_seconds(argv: list[str], cwd: str) -> tuple[float, list[float]]:
    times, _ = _medians(argv, cwd)
    return statistics.median(times), times


def _medians(argv: list[str], cwd: str) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system of the child) of REPEATS runs. CPU time is
    what a loaded machine disturbs least: the figure to compare across runs."""
    times, cpu = [], []
    for _ in range(REPEATS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def _cli_from(tree: Path) -> list[str]:
    """The CLI of another checkout (the baseline), run the same way as the entry point."""
    from benchmarks.procs import source_paths

    code = (
        f"import sys; sys.path[:0] = {source_paths(tree)!r}; "
        "from paybridge.cli.main import app; app()"
    )
    return [sys.executable, "-c", code]


def run() -> dict[str, object]:
    from benchmarks.procs import baseline_ref, baseline_tree

    baseline: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pb-startup-") as cwd:
        subprocess.run([PAYBRIDGE, "init"], cwd=cwd, env=ENV, check=True, capture_output=True)
        floor_runs, floor_cpu = _medians([sys.executable, "-c", "pass"], cwd)
        typer_runs, typer_cpu = _medians([sys.executable, "-c", "import typer"], cwd)
        help_runs, help_cpu = _medians([PAYBRIDGE, "--help"], cwd)
        list_runs, list_cpu = _medians([PAYBRIDGE, "requests", "list", "--json"], cwd)
        floor, help_median = statistics.median(floor_runs), statistics.median(help_runs)
        typer_median, list_median = statistics.median(typer_runs), statistics.median(list_runs)
        tree = baseline_tree()
        if tree is not None:  # same run, same load: the ratio is the figure to read
            old_help, _ = _median_seconds([*_cli_from(tree), "--help"], cwd)
            baseline = {
                "ref": baseline_ref(),
                "help_median_s": round(old_help, 3),
                "help_speedup": round(old_help / help_median, 2),
            }
    return {
        "repeats": REPEATS,
        "python_bare_median_s": round(floor, 3),
        "import_typer_median_s": round(typer_median, 3),
        "help_median_s": round(help_median, 3),
        "help_runs_s": [round(t, 3) for t in help_runs],
        "help_over_import_typer": round(help_median / typer_median, 2),
        "requests_list_median_s": round(list_median, 3),
        "cpu_median_s": {
            "python_bare": round(statistics.median(floor_cpu), 3),
            "import_typer": round(statistics.median(typer_cpu), 3),
            "help": round(statistics.median(help_cpu), 3),
            "requests_list": round(statistics.median(list_cpu), 3),
        },
        "goal_s": GOAL_SECONDS,
        "meets_goal": help_median <= GOAL_SECONDS,
        **({"baseline": baseline} if baseline else {}),
    }


if __name__ == "__main__":
    print(run())
