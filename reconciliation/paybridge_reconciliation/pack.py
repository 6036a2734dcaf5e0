"""Report packs written whole or not at all: staged in a sibling folder, published manifest last.

Why: an auditor trusts ``manifest.json`` to describe the files beside it. A run that fails half
way must leave the previous pack exactly as it was, and a published pack must never mix files of
two runs. Everything is written to a temporary sibling of the output folder; only when all of it
is written is it moved in. A new folder is renamed into place in one step; into an existing
folder, the old manifest is removed first, the outputs of the old pack that the new one does not
produce are removed (only names a pack can hold), the new files are moved in and the new
manifest goes last. Files in the folder that are not a pack's (the user's own) are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "manifest.json"
# what a pack can hold at its top level; only these are ever removed from an existing folder
PACK_ENTRIES = frozenset(
    {
        "matches.csv",
        "exceptions.csv",
        "requests_status.csv",
        "journals.csv",
        "report.html",
        "report.pdf",
        "report.xlsx",
        "inputs",
    }
)


@contextmanager
def staged_pack(out: Path) -> Iterator[Path]:
    """Yield a staging folder; publish it into ``out`` if the block succeeds, else discard it."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output {out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        yield staging
        if not (staging / MANIFEST).is_file():
            raise RuntimeError("a report pack must end with its manifest")
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _old_outputs(out: Path) -> set[str]:
    """The top-level entries the previous pack's manifest names (outputs and inputs)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    names = set(manifest.get("outputs", {}) if isinstance(manifest, dict) else {})
    for entry in (manifest.get("inputs", {}) if isinstance(manifest, dict) else {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            first = Path(entry["file"]).parts
            if len(first) > 1:  # inputs/requests.csv: the pack's own copy of the inputs
                names.add(first[0])
    return names & PACK_ENTRIES


def _publish(staging: Path, out: Path) -> None:
    if not out.exists():
        os.replace(staging, out)
        return
    stale = _old_outputs(out)
    (out / MANIFEST).unlink(missing_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    try:
        new = sorted(p.name for p in staging.iterdir() if p.name != MANIFEST)
        for name in sorted(stale - set(new)):
            if (out / name).exists():
                os.replace(out / name, trash / name)
        for name in new:
            if (out / name).is_dir():
                os.replace(out / name, trash / name)
            os.replace(staging / name, out / name)
        os.replace(staging / MANIFEST, out / MANIFEST)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
