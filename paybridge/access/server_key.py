"""The server key: HMAC-SHA256 key that hashes API keys and tokens before they are stored.

API keys are 256-bit random strings, so a keyed hash (not a slow password hash) is the right
tool: a stolen database alone does not let anyone test guesses offline. The key lives in a
file outside the database (mode 0600), created on first need.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from functools import cache
from pathlib import Path

KEY_FILE_ENV = "PAYBRIDGE_API_KEY_FILE"


class ServerKeyError(RuntimeError):
    """The server key file is unusable; the message says which file and what to do."""


def key_path(configured: str) -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or configured)


@cache
def _load(path: Path, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise ServerKeyError(
                f"no API server key at {path}: create an API key or user first "
                "(`paybridge api-keys create`), or set $PAYBRIDGE_API_KEY_FILE"
            )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _load(path, False)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ServerKeyError(
            f"API server key {path} is readable by other users: run `chmod 600 {path}`"
        )
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ServerKeyError(f"API server key {path} is not 64 hex digits: restore it from backup")
    return key


def server_key(configured: str, *, create: bool = False) -> bytes:
    return _load(key_path(configured).resolve(), create)


def keyed_hash(key: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of a credential: what the store keeps instead of the credential."""
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
