"""The root's static command table (paybridge/cli/lazy.py) against the real commands.

`paybridge --help` lists commands from the table without importing their modules; these
tests load every module and check that the table names exactly the commands it builds, with
the help text the commands themselves carry, so the listing cannot drift from the code.
"""

from __future__ import annotations

import subprocess
import sys

import typer

from paybridge.cli.lazy import COMMANDS, load_command
from paybridge.cli.main import app


def _first_paragraph(command: object) -> str:
    text = getattr(command, "short_help", None) or getattr(command, "help", None) or ""
    return text.split("\n\n")[0].strip()


def test_table_help_is_the_commands_own_help() -> None:
    wrong = {
        name: _first_paragraph(load_command(name))
        for name, entry in COMMANDS.items()
        if entry.help != _first_paragraph(load_command(name))
    }
    assert wrong == {}, f"update COMMANDS in paybridge/cli/lazy.py: {wrong}"


def test_every_module_in_the_table_builds_only_commands_the_table_names() -> None:
    """A command added to a module's ``register`` but not to the table would be unreachable."""
    for name in COMMANDS:
        load_command(name)
    from paybridge.cli.lazy import _BUILT

    built = {command for group in _BUILT.values() for command in group.commands}
    assert built == set(COMMANDS)


def test_root_runs_the_loaded_command_and_lists_all() -> None:
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    assert root.list_commands(ctx) == list(COMMANDS)
    requests = root.get_command(ctx, "requests")
    assert requests is load_command("requests")
    assert "create" in requests.list_commands(ctx)
    assert root.get_command(ctx, "no-such-command") is None


def test_root_help_lists_every_command_and_its_help() -> None:
    """The real process: each name and the start of its help text are on the screen."""
    result = subprocess.run(
        [sys.executable, "-m", "paybridge.cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, entry in COMMANDS.items():
        row = next((line for line in lines if line.startswith(f"│ {name} ")), None)
        assert row is not None, name
        assert " ".join(entry.help.split()[:4]) in row, (name, row)
    assert "--config" in result.stdout
    assert "PAYBRIDGE_CONFIG" in result.stdout


def test_unknown_command_is_refused_with_a_suggestion() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paybridge.cli.main", "reqests"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 2
    assert "No such command 'reqests'" in result.stderr
    assert "'requests'" in result.stderr
