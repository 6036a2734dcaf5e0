"""Running a DAG file's ``dag.test()`` in a fresh interpreter, as Airflow itself would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_dag_test(env: dict[str, str], dag_file: str, extra_env: dict[str, str]) -> str:
    """Run ``dag.test()`` of one DAG file in a fresh interpreter; returns the final state."""
    script = (
        "import runpy, sys\n"
        f"dag = runpy.run_path({str(REPO / 'dags' / dag_file)!r})['dag']\n"
        "run = dag.test()\n"
        "print('DAGRUN_STATE', run.state)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    states = [
        line.split()[-1] for line in result.stdout.splitlines() if line.startswith("DAGRUN_STATE")
    ]
    assert states, f"dag.test() did not finish:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return states[0] if result.returncode == 0 else f"exit {result.returncode}: {states[0]}"
