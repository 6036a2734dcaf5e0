"""Heavy commands run with glibc's heap on transparent huge pages (huge_pages, cli/relaunch):
the tunable is added beside any others, an explicit setting is respected, and the console
script starts `reconcile-files` again with it (the same process: execve) and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paybridge_reconciliation import huge_pages
from paybridge_reconciliation.generate import generate, write_csvs
from paybridge_reconciliation.huge_pages import ON, environment_with_huge_pages

from paybridge.cli.relaunch import command_of

PAYBRIDGE = Path(sys.executable).parent / "paybridge"


@pytest.fixture
def glibc_with_madvise(monkeypatch):
    monkeypatch.setattr(huge_pages, "_glibc_at_least", lambda major, minor: True)
    monkeypatch.setattr(huge_pages, "_thp_mode", lambda: "always [madvise] never\n")


def test_the_tunable_is_added_beside_others(glibc_with_madvise):
    assert environment_with_huge_pages({"HOME": "/h"}) == {"HOME": "/h", "GLIBC_TUNABLES": ON}
    arena = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    assert environment_with_huge_pages(arena) == {
        "GLIBC_TUNABLES": f"glibc.malloc.arena_max=2:{ON}"
    }


@pytest.mark.parametrize("tunables", [ON, "glibc.malloc.hugetlb=0", "a.b=1:glibc.malloc.hugetlb=2"])
def test_a_tunable_already_set_either_way_is_left_alone(glibc_with_madvise, tunables):
    assert environment_with_huge_pages({"GLIBC_TUNABLES": tunables}) is None


def test_nothing_changes_where_the_tunable_does_nothing(monkeypatch):
    monkeypatch.setattr(huge_pages, "_glibc_at_least", lambda major, minor: True)
    for mode in ("[always] madvise never", "always madvise [never]", ""):  # "": no THP at all
        monkeypatch.setattr(huge_pages, "_thp_mode", lambda mode=mode: mode)
        assert environment_with_huge_pages({}) is None
    monkeypatch.setattr(huge_pages, "_glibc_at_least", lambda major, minor: False)  # musl
    monkeypatch.setattr(huge_pages, "_thp_mode", lambda: "always [madvise] never")
    assert environment_with_huge_pages({}) is None


def test_the_command_is_found_after_root_options():
    assert command_of(["--config", "p.toml", "reconcile-files", "--out", "x"]) == "reconcile-files"
    assert command_of(["--config=p.toml", "reconcile", "run"]) == "reconcile"
    assert command_of(["requests", "list"]) == "requests"
    assert command_of(["--help"]) is None


def test_the_console_script_starts_reconcile_files_again_with_huge_pages(tmp_path):
    bare = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if environment_with_huge_pages(bare) is None:
        pytest.skip("glibc before 2.35 or THP not in madvise mode: nothing to start again for")
    log = tmp_path / "starts.log"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(  # runs at every interpreter start
        "import os\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(f\"{os.getpid()} {os.environ.get('GLIBC_TUNABLES', '-')}\\n\")\n"
    )
    paths = [str(site), *filter(None, [bare.get("PYTHONPATH")])]  # no empty entry: not the cwd
    env = {**bare, "PYTHONPATH": os.pathsep.join(paths)}
    files = write_csvs(generate(3, 60), tmp_path / "in")
    done = subprocess.run(
        [
            str(PAYBRIDGE),
            "reconcile-files",
            "--requests",
            str(files["requests"]),
            "--receipts",
            str(files["receipts"]),
            "--out",
            str(tmp_path / "out"),
            "--no-reports",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["requests"] == 60
    starts = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [tunables for _, tunables in starts] == ["-", ON]  # started again, with the tunable
    assert starts[0][0] == starts[1][0]  # in the same process (execve), not a child
    log.unlink()
    light = subprocess.run([str(PAYBRIDGE), "--help"], env=env, capture_output=True, timeout=60)
    assert light.returncode == 0
    assert log.read_text().splitlines()[0].split(" ", 1)[1] == "-"  # other commands: once
    assert len(log.read_text().splitlines()) == 1
