"""`paybridge init`: write a config file and the audit key; create (or upgrade) the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from paybridge.audit.keys import (
    KEY_ENV,
    KeyRing,
    active_ring,
    key_file_path,
    load_file,
    write_ring,
)
from paybridge.cli.context import config, console, engine, errors, shown, state
from paybridge.cli.users import bootstrap_admin
from paybridge.config import DEFAULT_CONFIG_FILE, default_config_text
from paybridge.config.merchant_keys import xpub_source
from paybridge.store.db import migrate


def init(
    config_file: Annotated[
        Path, typer.Option("--write-config", help="Where to write the config if missing.")
    ] = Path(DEFAULT_CONFIG_FILE),
) -> None:
    """Write ./paybridge.toml and the audit key ring (if absent); create or upgrade the store."""
    target = Path(state.config_path) if state.config_path else config_file
    if not target.exists():
        # 0600: the config names the merchant's xpub and the database URL (with its password)
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(default_config_text())
        console.print(f"wrote {shown(target)} (edit the merchant xpub, chains and assets)")
        state.config_path = str(target)
    cfg = config()
    _audit_key(cfg.audit.key_file)
    eng = engine(cfg, require_schema=False)
    migrate(eng)
    bootstrap_admin(cfg, eng)
    console.print(f"store ready at {shown(eng.url.render_as_string(hide_password=True))}")
    keyless = [c.name for c in cfg.chains if not xpub_source(cfg, c)[0]]
    if keyless:  # say it now, not when the first invoice on such a chain is refused
        errors.print(
            f"[yellow]Note:[/] no merchant xpub for {', '.join(keyless)}: payment requests on "
            "these chains are refused until you set \\[merchant] xpub to your wallet's account "
            "xpub (m/44'/60'/0'); see README: Configuration",
            highlight=False,
        )


def _audit_key(configured: str) -> None:
    """Create the audit key ring (mode 0600, outside the database) unless one is configured."""
    if os.environ.get(KEY_ENV):
        active_ring()  # validate the ring given in the environment
        return
    path = key_file_path(configured)
    if path.exists():
        load_file(path)  # readable, private and well-formed, or a clear error now
        return
    ring = KeyRing.generate()
    write_ring(path, ring)
    console.print(
        f"wrote audit key {shown(path)} (key {ring.active_id}, mode 0600): back it up apart "
        "from the database; without it the audit log cannot be verified",
        highlight=False,
    )
