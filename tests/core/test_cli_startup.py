"""CLI start-up: which libraries a command imports, and that no dependency's warning is printed.

The module set does not depend on the machine's speed, so these are the durable guard for
"`paybridge --help` is fast"; ``benchmarks/startup_bench.py`` reports the time itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")

#: Runs the real entry point, then writes the top-level packages it imported to a file.
DRIVER = """
import json, sys
from paybridge.cli.main import app
try:
    app(sys.argv[2:], prog_name="paybridge")
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""

#: Heavy libraries only the commands that use them may import.
HEAVY = {"pandas", "numpy", "pyarrow", "matplotlib", "web3", "netsuite", "airflow", "openpyxl"}
#: Also kept out of `--help` (a few hundred ms each on this machine).
NOT_FOR_HELP = HEAVY | {"bip_utils", "alembic", "eth_utils", "eth_account", "segno", "httpx"}
#: `paybridge --help` itself lists the commands from a static table (paybridge/cli/lazy.py):
#: no store, config or crypto library, and none of Typer's markdown/traceback rendering.
NOT_FOR_ROOT_HELP = NOT_FOR_HELP | {
    "sqlalchemy",
    "pydantic",
    "coincurve",
    "Crypto",
    "psycopg",
    "fastapi",
    "uvicorn",
    "jinja2",
    "weasyprint",
    "zeep",
    "pyodata",
    "paybridge_connectors",
    "paybridge_reconciliation",
    "pygments",
    "markdown_it",
}
#: the only PayBridge modules `paybridge --help` runs
ROOT_HELP_MODULES = {
    "paybridge",
    "paybridge.cli",
    "paybridge.cli.main",
    "paybridge.cli.lazy",
    "paybridge.cli.root_help",
}

ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}


def imported_by(cwd: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Top-level packages the command imported, and the finished process."""
    modules, result = modules_imported_by(cwd, *args)
    return {name.split(".")[0] for name in modules}, result


def modules_imported_by(cwd: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    modules_file = cwd / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(modules_file), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    return set(json.loads(modules_file.read_text())), result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup")
    subprocess.run([PAYBRIDGE, "init"], cwd=path, check=True, capture_output=True, env=ENV)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("requests", "--help"),
        ("reconcile", "--help"),
        ("exceptions", "--help"),
        ("erp", "--help"),
    ],
)
def test_help_imports_no_heavy_library(workdir: Path, args: tuple[str, ...]) -> None:
    modules, result = imported_by(workdir, *args)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert modules & NOT_FOR_HELP == set()
    assert "typer" in modules  # the driver really ran the CLI


@pytest.mark.parametrize("args", [("--help",), ()])
def test_root_help_imports_no_command_module(workdir: Path, args: tuple[str, ...]) -> None:
    """The root's help (and the bare `paybridge`) import Typer, rich's console and the table."""
    modules, result = modules_imported_by(workdir, *args)
    assert "Usage" in result.stdout
    assert "reconcile-files" in result.stdout  # the commands are listed all the same
    assert {name.split(".")[0] for name in modules} & NOT_FOR_ROOT_HELP == set()
    assert {name for name in modules if name.split(".")[0] == "paybridge"} == ROOT_HELP_MODULES


@pytest.mark.parametrize(
    "args",
    [
        ("requests", "list", "--json"),
        ("settlements", "list", "--json"),
        ("receipts", "list", "--json"),
    ],
)
def test_light_commands_import_no_heavy_library(workdir: Path, args: tuple[str, ...]) -> None:
    modules, result = imported_by(workdir, *args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    # the config's xpub and addresses are checked without bip-utils and eth-utils
    assert modules & (HEAVY | {"bip_utils", "eth_utils", "alembic"}) == set()
    assert "sqlalchemy" in modules  # it did read the store


def test_heavy_command_still_imports_what_it_needs(workdir: Path) -> None:
    """The other side: the lazy imports happen, in the command that needs them."""
    modules, result = imported_by(workdir, "reconcile", "--json")
    assert result.returncode == 0, result.stderr
    assert "pandas" in modules


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("requests", "list"),
        ("erp", "test-connection"),
        ("status",),
        ("audit", "verify"),
        ("reconcile", "--help"),
        ("sim", "--help"),
    ],
)
def test_no_dependency_warning_is_printed(workdir: Path, args: tuple[str, ...]) -> None:
    """authlib warns (and forces the warning on) when imported through the netsuite package;
    `erp test-connection` imports it, fails on the missing NETSUITE_* settings, and must say
    only that."""
    result = subprocess.run(
        [PAYBRIDGE, *args], cwd=workdir, capture_output=True, text=True, timeout=120, env=ENV
    )
    assert "Warning" not in result.stderr, result.stderr
    assert "Warning" not in result.stdout
    if args == ("erp", "test-connection"):
        assert result.returncode == 2
        assert "NETSUITE_ACCOUNT" in result.stderr
