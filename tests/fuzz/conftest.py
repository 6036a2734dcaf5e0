"""Fuzz fixtures: the CLI app invoked in this process against the test store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from typer.main import get_command

from paybridge.cli.main import app


def store_url(store: Engine) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def cli(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Runs `paybridge invoices import FILE --json` in this process against ``store``."""
    monkeypatch.chdir(tmp_path)  # no paybridge.toml here: the built-in defaults
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", store_url(store))
    # the CLI's own engine per call would leave pooled connections behind; use the test's
    monkeypatch.setattr("paybridge.cli.context.create_engine_for", lambda _url, **_options: store)
    runner, command = CliRunner(), get_command(app)  # built once: typer takes 0.25 s a build

    def invoke(path: Path):  # type: ignore[no-untyped-def]
        return runner.invoke(command, ["invoices", "import", str(path), "--json"])

    return invoke
