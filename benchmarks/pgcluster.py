"""A throwaway PostgreSQL cluster for one benchmark: initdb in a temporary directory, pg_ctl
start on a free loopback port, a Unix socket in the same directory, removed afterwards.

Benchmarks never use a PostgreSQL they did not start (someone else's server, with someone
else's load and settings, is not a measurement of ours). The Debian server binaries are looked
up under /usr/lib/postgresql/*/bin; without them ``temporary_cluster`` raises ``PgUnavailable``
with the reason, and the benchmark reports PostgreSQL as skipped. initdb refuses to run as root,
so as root the cluster runs as the ``postgres`` system user (runuser).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no way to run them) on this machine."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise PgUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def temporary_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL (psycopg, TCP on loopback) of a fresh, empty cluster."""
    bin_dir = _bin_dir()
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="pb-bench-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise PgUnavailable("running as root and there is no postgres user") from None
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            **run,  # type: ignore[arg-type]
        )
        # several server processes, each with its own pool, share the cluster: room for them
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=on"
        options += " -c max_connections=300"
        log = str(base / "server.log")  # the server's output, not our pipes (held open)
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "pg_ctl"),
                "-w",
                "-D",
                str(data),
                "-l",
                log,
                "-o",
                options,
                "start",
            ],
            **run,  # type: ignore[arg-type]
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise PgUnavailable(f"{exc.cmd[len(as_user)]} failed: {exc.stderr.strip()}") from None
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
