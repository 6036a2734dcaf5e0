"""docker-compose.yml starts safely: secrets required, loopback port, healthchecks, no Node.js
in the production image, every Airflow command one the installed Airflow knows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_helpers import REPO

COMPOSE = REPO / "docker-compose.yml"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "AIRFLOW_FERNET_KEY": "x" * 43 + "=",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
}
#: one-shot services: the others wait for them to exit 0, a healthcheck has nothing to watch
ONE_SHOT = {"airflow-init"}


def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_long_running_service_has_a_healthcheck() -> None:
    missing = [
        name
        for name, svc in services().items()
        if name not in ONE_SHOT and "healthcheck" not in svc
    ]
    assert missing == []
    assert services()["airflow-init"]["restart"] == "no"


def test_secrets_have_no_working_defaults_and_port_is_loopback() -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required (${{{name}:?...}})"
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} must have no default"
    assert "change-me" not in text
    ports = [p for svc in services().values() for p in svc.get("ports", [])]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)


def test_bind_mounts_exist_and_production_image_has_no_node() -> None:
    for svc in services().values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{source} is mounted but not in the repository"
    stage = (REPO / "Dockerfile").read_text().split("AS dev")[0]
    production = "\n".join(line for line in stage.splitlines() if not line.startswith("#"))
    assert "nodejs" not in production and "npm" not in production
    assert "simulators" not in production
    assert {svc.get("profiles", [None])[0] for svc in services().values()} == {None, "dev"}


@pytest.mark.parametrize("command", ["api-server", "scheduler", "dag-processor", "triggerer"])
def test_compose_commands_are_commands_of_the_installed_airflow(command: str) -> None:
    used = {
        svc.get("command") for svc in services().values() if isinstance(svc.get("command"), str)
    }
    assert command in used
    out = subprocess.run(
        [AIRFLOW, *command.split(), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFLOW_HOME": str(REPO / ".airflow-help-home")},
    )
    shutil.rmtree(REPO / ".airflow-help-home", ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_docker_compose_config_validates_and_refuses_missing_secrets() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose not installed (Debian: apt-get install docker-compose)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    ok = subprocess.run(
        [tool, "-f", str(COMPOSE), "--profile", "dev", "config", "-q"],
        env={**env, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "set POSTGRES_PASSWORD" in refused.stderr or "AIRFLOW_" in refused.stderr
