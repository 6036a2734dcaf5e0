"""The audit key ring: HMAC-SHA256 keys that live outside the database.

Whoever can write the database can rewrite an unkeyed hash chain from the first edit to the
tip and it verifies. Keyed entries cannot be recomputed without the key, so the key must not
be where the log is: it comes from ``$PAYBRIDGE_AUDIT_KEY`` (the ring's text, for container
secrets), ``$PAYBRIDGE_AUDIT_KEY_FILE``, or ``[audit] key_file`` in the config, in that order.

A ring holds several keys so they can rotate: each line is ``<key id> <64 hex digits>``, the
last line signs new entries and checkpoints, earlier lines only verify what they signed. The
key id is derived from the key (first 16 hex digits of a domain-separated SHA-256), so an id
always names one key, and it is stored with every entry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

KEY_ENV = "PAYBRIDGE_AUDIT_KEY"
KEY_FILE_ENV = "PAYBRIDGE_AUDIT_KEY_FILE"
DEFAULT_KEY_FILE = "paybridge-audit.key"
KEY_BYTES = 32
_HEADER = """\
# PayBridge audit key ring (HMAC-SHA256). Keep it OUTSIDE the database, readable only by
# PayBridge, and backed up apart from the database backups. One key per line:
# "<key id> <64 hex digits>". The LAST line signs new audit entries and checkpoints; keep
# every earlier (retired) key: entries signed with it cannot be verified without it.
"""


class AuditKeyError(RuntimeError):
    """No usable audit key: says where PayBridge looked and what to do."""


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"paybridge-audit-key-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``active_id`` names the one that signs."""

    keys: dict[str, bytes]
    active_id: str
    source: str

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def sign(self, message: bytes, key_id: str | None = None) -> str:
        return hmac.digest(self.keys[key_id or self.active_id], message, "sha256").hex()

    @classmethod
    def generate(cls, source: str = "generated") -> KeyRing:
        key = secrets.token_bytes(KEY_BYTES)
        return cls({key_id_of(key): key}, key_id_of(key), source)

    def rotated(self) -> KeyRing:
        """The same ring with a new active key; retired keys stay for verification."""
        key = secrets.token_bytes(KEY_BYTES)
        return KeyRing({**self.keys, key_id_of(key): key}, key_id_of(key), self.source)

    def text(self) -> str:
        ordered = [k for k in self.keys if k != self.active_id] + [self.active_id]
        return _HEADER + "".join(f"{kid} {self.keys[kid].hex()}\n" for kid in ordered)


def parse_ring(text: str, source: str) -> KeyRing:
    """Lines ``<id> <hex>`` (or a bare hex key); ``;`` also separates entries (environment)."""
    keys: dict[str, bytes] = {}
    active = None
    lines = [line.split("#", 1)[0] for line in text.splitlines()]  # drop comments
    entries = [e.strip() for line in lines for e in line.split(";") if e.strip()]
    for number, entry in enumerate(entries, start=1):
        parts = entry.split()
        try:
            key = bytes.fromhex(parts[-1])
        except ValueError:
            raise AuditKeyError(f"{source}: entry {number} is not '<key id> <hex key>'") from None
        if len(parts) > 2 or len(key) < 16:
            raise AuditKeyError(
                f"{source}: entry {number} must be '<key id> <hex key>' with at least 16 bytes"
            )
        kid = key_id_of(key)
        if len(parts) == 2 and parts[0] != kid:
            raise AuditKeyError(
                f"{source}: entry {number} names key id {parts[0]} but its key has id {kid}"
            )
        keys[kid], active = key, kid
    if active is None:
        raise AuditKeyError(f"{source} holds no audit key")
    return KeyRing(keys, active, source)


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise AuditKeyError(
            f"audit key file {path} is accessible to others (mode {mode:04o}): "
            f"run `chmod 600 {path}`"
        )


def write_ring(path: Path, ring: KeyRing, *, replace: bool = False) -> None:
    """Write with mode 0600 from the start (never world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(ring.text())
        return
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(ring.text())
        out.flush()
        os.fsync(out.fileno())
    os.replace(staged, path)


_cache: dict[tuple[str, int], KeyRing] = {}


def load_file(path: Path) -> KeyRing:
    """Read (and cache until the file changes, e.g. after a rotation) a key file."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise AuditKeyError(
            f"audit key file {path} not found: run `paybridge init` to create one, or set "
            f"{KEY_FILE_ENV} / [audit] key_file to where yours is"
        ) from None
    cached = _cache.get((str(path), mtime))
    if cached is None:
        _check_private(path)
        cached = parse_ring(path.read_text(encoding="utf-8"), f"audit key file {path}")
        _cache[(str(path), mtime)] = cached
    return cached


class _Active:
    """Where the running process takes its ring from (set by the CLI, DAG hook or tests)."""

    ring: KeyRing | None = None
    key_file: str | None = None


_active = _Active()


def use_ring(ring: KeyRing | None) -> None:
    """Sign and verify with this ring (tests, embedding); None returns to the configuration."""
    _active.ring = ring


def use_key_file(path: str | None) -> None:
    """The configured key file (``[audit] key_file``); read lazily, when an entry is written."""
    _active.key_file = path


def key_file_path(configured: str | None = None) -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or configured or DEFAULT_KEY_FILE)


def active_ring() -> KeyRing:
    """The ring to use now: an explicit one, else environment, else the configured file."""
    if _active.ring is not None:
        return _active.ring
    inline = os.environ.get(KEY_ENV)
    if inline:
        return parse_ring(inline, f"${KEY_ENV}")
    return load_file(key_file_path(_active.key_file))
