"""The provider: found by Airflow through its entry point, no module shadows a real package,
and each connection type's "Test" answers against the real thing (simulators, anvil, store)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_helpers import REPO

from paybridge.devchain import AnvilNode
from simulators.netsuite import DEFAULT_GRANT, NetSuiteSimulator
from simulators.sap import SAPSimulator

pytestmark = pytest.mark.xdist_group("airflow")
CONN_TYPES = {"netsuite", "sap_s4", "sap_rfc", "evm_rpc", "paybridge"}


def test_no_provider_or_dag_module_is_named_like_a_real_package() -> None:
    """Airflow imports every .py under ``plugins_folder`` (the repository's ``plugins/``) by its
    bare file name: the folder holds only the provider package, whose modules are named so
    that none is a real package's name."""
    assert [p.name for p in (REPO / "plugins").iterdir() if p.is_dir()] == ["paybridge_provider"]
    assert not [p.name for p in (REPO / "plugins").glob("*.py")]
    stems = sorted(
        {
            path.stem
            for folder in ("plugins", "dags")
            for path in (REPO / folder).rglob("*.py")
            if path.stem != "__init__"
        }
    )
    assert "store_hook" in stems and "paybridge_erp_sync" in stems
    # a clean interpreter (pytest's own sys.path holds test folders) finds none of the names
    script = (
        "import importlib.util, sys\n"
        f"print([s for s in {stems!r} if importlib.util.find_spec(s) is not None])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_airflow_finds_the_provider_and_loads_dags_with_plugins_folder_on_it(
    airflow_env: dict[str, str],
) -> None:
    """With plugins_folder on the repository's plugins/, the plugin loader shadows nothing."""
    script = (
        "from airflow import plugins_manager\n"
        "from airflow.providers_manager import ProvidersManager\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "plugins_manager.ensure_plugins_loaded()\n"
        "import paybridge, netsuite, connectors\n"
        "assert hasattr(paybridge, '__path__') and hasattr(connectors, '__path__')\n"
        "pm = ProvidersManager()\n"
        "print('PROVIDER', 'paybridge' in pm.providers)\n"
        f"print('TYPES', sorted(t for t in pm.hooks if t in {CONN_TYPES!r}))\n"
        "print('TRIGGERS', sorted(t.trigger_class_name for t in pm.trigger"
        " if t.package_name == 'paybridge'))\n"
        f"bag = DagBag({str(REPO / 'dags')!r})\n"
        "print('ERRORS', bag.import_errors)\n"
        "print('PLUGIN_ERRORS', plugins_manager.get_import_errors())\n"
    )
    env = {
        **airflow_env,
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "PYTHONPATH": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PROVIDER True" in out.stdout
    assert f"TYPES {sorted(CONN_TYPES)}" in out.stdout
    trigger = "paybridge_provider.triggers.confirmations"  # Airflow lists modules here
    assert f"TRIGGERS {[trigger]}" in out.stdout, out.stdout
    assert "ERRORS {}" in out.stdout and "PLUGIN_ERRORS {}" in out.stdout


def test_connection_forms_relabel_fields_for_erp_admins() -> None:
    from paybridge_provider.hooks.netsuite_hook import NetSuiteHook
    from paybridge_provider.provider_info import get_provider_info

    info = get_provider_info()
    assert {c["connection-type"] for c in info["connection-types"]} == CONN_TYPES
    behaviour = NetSuiteHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["login"] == "Consumer key"
    assert "port" in behaviour["hidden_fields"]
    netsuite = next(c for c in info["connection-types"] if c["connection-type"] == "netsuite")
    assert netsuite["conn-fields"]["token_secret"]["schema"]["format"] == "password"


def _test_connection(env: dict[str, str], hook: str, conn_id: str, conn: dict) -> tuple[bool, str]:
    """Run a hook's test_connection in a fresh interpreter with the Connection in the env."""
    module, cls = hook.rsplit(".", 1)
    script = (
        f"from {module} import {cls}\n"
        f"ok, message = {cls}({conn_id!r}).test_connection()\n"
        "import json; print('RESULT', json.dumps([ok, message]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stdout + out.stderr
    ok, message = json.loads(lines[0].removeprefix("RESULT "))
    return ok, message


@pytest.fixture
def netsuite() -> Iterator[NetSuiteSimulator]:
    with NetSuiteSimulator() as simulator:
        yield simulator


def test_netsuite_test_connection(airflow_env: dict[str, str], netsuite: NetSuiteSimulator) -> None:
    conn = {
        "conn_type": "netsuite",
        "host": netsuite.base_url,
        "login": DEFAULT_GRANT.consumer_key,
        "password": DEFAULT_GRANT.consumer_secret,
        "extra": {
            "account": netsuite.account_id,
            "token_id": DEFAULT_GRANT.token_id,
            "token_secret": DEFAULT_GRANT.token_secret,
            "accounts": "{}",
        },
    }
    hook = "paybridge_provider.hooks.netsuite_hook.NetSuiteHook"
    ok, message = _test_connection(airflow_env, hook, "ns_test", conn)
    assert ok, message
    bad = {**conn, "password": "wrong-secret"}
    ok, message = _test_connection(airflow_env, hook, "ns_test", bad)
    assert not ok and message


@pytest.fixture
def sap() -> Iterator[SAPSimulator]:
    with SAPSimulator() as simulator:
        yield simulator


@pytest.mark.parametrize("kind", ["sap_s4", "sap_rfc"])
def test_sap_test_connection(airflow_env: dict[str, str], sap: SAPSimulator, kind: str) -> None:
    hook = "paybridge_provider.hooks.sap_hook." + (
        "SapS4Hook" if kind == "sap_s4" else "SapRfcHook"
    )
    conn = sap.airflow_connection("1010", conn_type=kind)
    ok, message = _test_connection(airflow_env, hook, "sap_test", conn)
    assert ok, message
    ok, message = _test_connection(airflow_env, hook, "sap_test", {**conn, "password": "nope"})
    assert not ok and "refused user" in message


@pytest.mark.anvil
def test_evm_rpc_test_connection(airflow_env: dict[str, str], anvil: AnvilNode) -> None:
    hook = "paybridge_provider.hooks.evm_hook.EvmRpcHook"
    conn = {"conn_type": "evm_rpc", "host": anvil.url, "extra": {"chain_id": "31337"}}
    ok, message = _test_connection(airflow_env, hook, "evm_test", conn)
    assert ok and "31337" in message, message
    wrong = {**conn, "extra": {"chain_id": "8453"}}
    ok, message = _test_connection(airflow_env, hook, "evm_test", wrong)
    assert not ok and "8453" in message


def test_store_test_connection(airflow_env: dict[str, str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'paybridge.db'}"
    hook = "paybridge_provider.hooks.store_hook.PayBridgeHook"
    conn = {"conn_type": "paybridge", "extra": {"database_url": url}}
    ok, message = _test_connection(airflow_env, hook, "pb_test", conn)
    assert not ok and "paybridge init" in message  # empty database: no schema yet
    paybridge = str(Path(sys.executable).parent / "paybridge")
    subprocess.run(
        [paybridge, "init"],
        cwd=tmp_path,
        env={**airflow_env, "PAYBRIDGE_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    ok, message = _test_connection(airflow_env, hook, "pb_test", conn)
    assert ok and "revision" in message, message


def test_wheel_installs_only_paybridge_named_packages(tmp_path: Path) -> None:
    """Build the real wheel and read what it would put in site-packages: every top-level name is
    PayBridge's own (no ``plugins``, ``simulators``, ``dags``, ``connectors`` or
    ``reconciliation`` shadowing someone else's module), and the provider entry point is there."""
    import zipfile

    uv = REPO / ".tools" / "bin" / "uv"
    build = subprocess.run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("paybridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = {name.split("/")[0] for name in names}
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
    packages = {name for name in top_level if not name.endswith(".dist-info")}
    assert packages == {
        "paybridge",
        "paybridge_provider",
        "paybridge_connectors",
        "paybridge_reconciliation",
    }
    assert "paybridge_connectors/erp/netsuite/connector.py" in names
    assert "paybridge_reconciliation/engine.py" in names
    assert "[apache_airflow_provider]" in entry_text
    assert "provider_info = paybridge_provider.provider_info:get_provider_info" in entry_text
