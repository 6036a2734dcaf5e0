"""Signed checkpoints: the audit log's length and head, kept where the database is not.

A keyed chain shows any edit, but not that the newest rows (or all rows) were dropped and the
tip row set to match: the remaining chain is still valid. A checkpoint records the entry count
and head hash at a moment, HMAC-signed with the audit key, and travels outside the database:
as a file (`paybridge audit checkpoint --out`), in every report pack's ``manifest.json`` and in
the memo of every settlement posted to the ERP. Verifying the log against any such checkpoint
shows truncation, deletion and wholesale rewrites since it was taken.

Two forms carry the same fields: JSON (files, manifests) and a one-line token for ERP memos,
``pbcp1:<entries>:<head hash>:<UTC time>:<key id>:<signature>``.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.audit import GENESIS_HASH, VerifyResult, verify
from paybridge.audit.keys import KeyRing, active_ring
from paybridge.store.models import AuditEntry

VERSION = 1
_TIME = "%Y%m%dT%H%M%SZ"
TOKEN = re.compile(
    r"pbcp1:(?P<entries>\d{1,18}):(?P<head>[0-9a-f]{64}):(?P<at>\d{8}T\d{6}Z):"
    r"(?P<key_id>[0-9a-f]{16}):(?P<sig>[0-9a-f]{64})"
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; names the source and the problem."""


@dataclass(frozen=True)
class Checkpoint:
    entries: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str = ""

    def message(self) -> bytes:
        """What the signature covers (domain-separated from entry hashes)."""
        body = [VERSION, self.entries, self.head_hash, self.at.strftime(_TIME), self.key_id]
        return b"paybridge-audit-checkpoint\n" + json.dumps(body, separators=(",", ":")).encode()

    def signed(self, ring: KeyRing) -> Checkpoint:
        cp = Checkpoint(self.entries, self.head_hash, self.at, ring.active_id)
        return Checkpoint(cp.entries, cp.head_hash, cp.at, cp.key_id, ring.sign(cp.message()))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "at": self.at.strftime(_TIME),
            "key_id": self.key_id,
            "signature": self.signature,
            "token": self.token(),
        }

    def token(self) -> str:
        at = self.at.strftime(_TIME)
        return f"pbcp1:{self.entries}:{self.head_hash}:{at}:{self.key_id}:{self.signature}"


def take(session: Session, ring: KeyRing | None = None, now: datetime | None = None) -> Checkpoint:
    """Checkpoint of the log as this transaction sees it (its own new entries included)."""
    ring = ring or active_ring()
    last = session.execute(
        sa.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    entries, head = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Checkpoint(entries, head, at, ring.active_id).signed(ring)


def parse(text: str, source: str) -> Checkpoint:
    """A checkpoint from JSON (a file or a manifest) or from text holding a token (a memo)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{source}: not valid JSON: {exc}") from None
        data = data.get("audit_checkpoint", data) if isinstance(data, dict) else data
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise CheckpointError(f"{source}: no audit checkpoint in this JSON")
        stripped = token
    match = TOKEN.search(stripped)
    if match is None:
        raise CheckpointError(f"{source}: no audit checkpoint (pbcp1:...) found")
    at = datetime.strptime(match["at"], _TIME).replace(tzinfo=UTC)
    return Checkpoint(int(match["entries"]), match["head"], at, match["key_id"], match["sig"])


def check_signature(cp: Checkpoint, ring: KeyRing) -> str | None:
    """None if the checkpoint was signed with a key of ``ring``; else what is wrong."""
    key = ring.keys.get(cp.key_id)
    if key is None:
        return f"the checkpoint is signed with audit key {cp.key_id}, which is not in {ring.source}"
    if not hmac.compare_digest(ring.sign(cp.message(), cp.key_id), cp.signature):
        return "the checkpoint's signature does not verify: it was forged or altered"
    return None


def verify_since(session: Session, cp: Checkpoint, ring: KeyRing | None = None) -> VerifyResult:
    """The chain verifies *and* still holds the checkpoint's entries with the same head."""
    ring = ring or active_ring()
    bad_signature = check_signature(cp, ring)
    if bad_signature:
        return VerifyResult(0, None, bad_signature)
    result = verify(session, ring)
    if not result.ok:
        return result
    when = cp.at.strftime("%Y-%m-%d %H:%M:%SZ")
    if result.entries < cp.entries:
        if result.entries == 0:
            problem = (
                f"the audit log is empty but the checkpoint of {when} records {cp.entries} "
                "entries: the log was deleted"
            )
        else:
            problem = (
                f"the log ends at entry {result.entries} but the checkpoint of {when} records "
                f"{cp.entries} entries: entries {result.entries + 1}..{cp.entries} were deleted "
                "(truncation)"
            )
        return VerifyResult(result.entries, result.entries + 1, problem, result.head_hash)
    head = session.scalar(sa.select(AuditEntry.hash).where(AuditEntry.seq == cp.entries))
    if (head or GENESIS_HASH) != cp.head_hash:
        return VerifyResult(
            result.entries,
            cp.entries or None,
            f"entry {cp.entries} no longer has the hash the checkpoint of {when} records: the "
            "log up to it was rewritten since",
            result.head_hash,
        )
    return result
