"""`paybridge audit verify | checkpoint | rotate-key | seal-legacy`: the keyed audit log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from paybridge import audit as audit_log
from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.audit.keys import KEY_ENV, active_ring, key_file_path, load_file, write_ring
from paybridge.cli.audit_log import audit_log as log_command
from paybridge.cli.context import (
    USAGE_ERROR,
    actor,
    config,
    console,
    engine,
    errors,
    fail,
    print_json,
    shown,
)
from paybridge.store.db import transaction

app = typer.Typer(
    help="The append-only audit log, chained with a keyed hash.", no_args_is_help=True
)


@app.callback()
def audit() -> None:
    """The append-only audit log, chained with a keyed hash (HMAC-SHA256)."""


@app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint (its JSON file, a report manifest.json, or text holding the "
            "pbcp1: token of an ERP memo): also find truncation, deletion and rewrites since.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-compute the keyed chain; exit 1 and name what is wrong if anything was altered."""
    cp = None
    if checkpoint is not None:
        try:
            text = checkpoint.read_text(encoding="utf-8")
            cp = audit_checkpoint.parse(text, str(checkpoint))
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read checkpoint {checkpoint}: {exc}", code=USAGE_ERROR)
        except audit_checkpoint.CheckpointError as exc:
            fail(str(exc), code=USAGE_ERROR)
    with transaction(engine(config())) as session:
        if cp is None:
            result = audit_log.verify(session)
        else:
            result = audit_checkpoint.verify_since(session, cp)
    if json_output:
        print_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "first_bad_entry": result.first_bad_seq,
                "problem": result.problem,
                **({"checkpoint_entries": cp.entries} if cp else {}),
            }
        )
    elif result.ok:
        since = f", and it holds the {cp.entries} entries of the checkpoint" if cp else ""
        console.print(
            f"audit log intact: {result.entries} entries, keyed hash chain verified{since}",
            highlight=False,
        )
    else:
        where = f" at entry {result.first_bad_seq}" if result.first_bad_seq else ""
        errors.print(
            f"[bold red]audit log broken{where}:[/] {shown(result.problem)}", highlight=False
        )
    if not result.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the checkpoint JSON here (mode 0600).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """Sign the log's entry count and head hash now; keep the result outside the database."""
    with transaction(engine(config())) as session:
        result = audit_log.verify(session)
        if not result.ok:
            fail(
                f"not signing a broken log: entry {result.first_bad_seq}: {result.problem}",
                "investigate with `paybridge audit verify`",
            )
        cp = audit_checkpoint.take(session)
    data = cp.to_json()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    if json_output:
        print_json(data)
    else:
        console.print(
            f"checkpoint: {cp.entries} entries, head {cp.head_hash[:16]}..., key {cp.key_id}"
            + (f", written to {out}" if out else ""),
            highlight=False,
        )
        console.print(cp.token(), highlight=False, soft_wrap=True)


@app.command("rotate-key")
def rotate_key() -> None:
    """Add a new signing key to the key file; older keys stay to verify what they signed."""
    cfg = config()
    if os.environ.get(KEY_ENV):
        fail(
            f"the audit key ring comes from ${KEY_ENV}: rotate it where that secret is managed "
            "(append a new key as the last entry, keep the old ones)",
            code=USAGE_ERROR,
        )
    path = key_file_path(cfg.audit.key_file)
    ring = load_file(path).rotated()
    write_ring(path, ring, replace=True)
    console.print(
        f"{path}: new signing key {ring.active_id}; {len(ring.keys) - 1} older key(s) kept "
        "for verification (back the file up now)",
        highlight=False,
    )


@app.command("seal-legacy")
def seal_legacy() -> None:
    """Once after upgrading: put entries from before audit keys under the key."""
    with transaction(engine(config())) as session:
        result = audit_log.verify(session)
        if not result.ok and not (
            result.legacy_entries and result.legacy_entries == result.entries
        ):
            fail(f"entry {result.first_bad_seq}: {result.problem}", "not sealing a broken log")
        sealed = audit_log.seal_legacy(session, actor=actor())
    if sealed:
        console.print(f"sealed entries 1..{sealed} under audit key {active_ring().active_id}")
    else:
        console.print("nothing to seal: the newest entry already carries a keyed hash")


app.command("log")(log_command)
