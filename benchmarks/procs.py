"""Run one benchmark function in its own process, optionally against another checkout's code.

* Peak memory is that process's own (``ru_maxrss`` of ``RUSAGE_SELF`` read in the child), not
  ``RUSAGE_CHILDREN`` of the parent (which is the maximum over every child ever waited for).
* ``PAYBRIDGE_BENCH_BASELINE=<git ref>`` (e.g. ``main``) measures the same function on that
  commit's code (exported with ``git archive`` into a temporary directory) in the same run, so
  the ratio old/new is measured under the same machine load.

The function is loaded from the benchmark *file* of this checkout (``runpy.run_path``), so the
baseline runs today's benchmark against yesterday's library; a benchmark file must therefore
import ``benchmarks.*`` helpers inside functions, not at the top.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_ENV = "PAYBRIDGE_BENCH_BASELINE"

_CHILD = r"""
import json, resource, runpy, sys
tree, bench_file, func, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if tree:
    sys.path[:0] = json.loads(tree)
from paybridge.audit.keys import KeyRing, use_ring
use_ring(KeyRing.generate("benchmark"))
result = runpy.run_path(bench_file)[func](*args)
result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print("RESULT " + json.dumps(result, default=str), flush=True)
"""


def source_paths(tree: Path) -> list[str]:
    """What a checkout needs on sys.path to run from its files: the tree, and the folders that
    hold a package of their own (connectors/paybridge_connectors, plugins/paybridge_provider...;
    in older commits connectors/ was itself the package and the tree alone is enough)."""
    folders = ("connectors", "reconciliation", "plugins")
    return [str(tree)] + [
        str(tree / name)
        for name in folders
        if (tree / name).is_dir() and not (tree / name / "__init__.py").exists()
    ]


def in_process(
    bench_file: str | Path, func: str, *args: object, tree: Path | None = None
) -> dict[str, object]:
    """``func(*args)`` from ``bench_file`` in a fresh interpreter; its dict plus peak_rss_mb."""
    paths = json.dumps(source_paths(tree)) if tree else ""
    argv = [sys.executable, "-c", _CHILD, paths, str(bench_file), func, json.dumps(args)]
    done = subprocess.run(argv, cwd=tree or ROOT, capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line.removeprefix("RESULT ")))
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"{Path(bench_file).name}:{func} failed: " + " | ".join(tail))


def baseline_ref() -> str | None:
    return os.environ.get(BASELINE_ENV) or None


@cache
def baseline_tree() -> Path | None:
    """The baseline commit's files in a temporary directory (removed at exit), or None."""
    ref = baseline_ref()
    if ref is None:
        return None
    target = Path(tempfile.mkdtemp(prefix="pb-baseline-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def with_baseline(bench_file: str | Path, func: str, *args: object) -> dict[str, object]:
    """This checkout's figures, and the baseline's under ``baseline`` when one is asked for."""
    current = in_process(bench_file, func, *args)
    tree = baseline_tree()
    if tree is None:
        return current
    try:
        base = in_process(bench_file, func, *args, tree=tree)
        base["ref"] = baseline_ref()
    except RuntimeError as exc:
        base = {"ref": baseline_ref(), "error": str(exc)}
    return {**current, "baseline": base}
