"""The per-key request budget: a token bucket per key, counted in one process
(``RateLimiter``) or shared by every `paybridge api` worker process on the host
(``SharedRateLimiter``); both take a request with ``spend``.

`paybridge api --workers N` runs N processes; a budget counted in each would let a key send N
times its limit. The buckets live instead in a small file next to the server key (the
operator's directory, mode 0600, not a world-writable temp dir someone else could pre-create),
mapped into each process and updated under an exclusive ``flock``: a few microseconds per
request, no database round trip and no hot row lock on PostgreSQL. Two `paybridge api`
servers on the host with the same server key share it too.

Layout: a header, then ``SLOTS`` fixed slots of (16-byte BLAKE2b of the key id, tokens,
last refill as Unix time), found by open addressing from the digest. When every slot is taken
(more keys active than ``SLOTS``), the slot refilled longest ago is reused: that key starts
again with a full bucket, which errs towards letting a request through, never towards
refusing one. A stale file (a server restarted) only holds buckets that refill with time.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path

MAGIC = b"PBRL0001"
SLOTS = 4096
_SLOT = struct.Struct("<16sdd")
_HEADER = len(MAGIC)
_SIZE = _HEADER + SLOTS * _SLOT.size
_EMPTY = bytes(16)


def spend(tokens: float, elapsed: float, rate: float, burst: float) -> tuple[float, float]:
    """One request against a bucket holding ``tokens`` ``elapsed`` seconds ago, refilled at
    ``rate`` per second up to ``burst``: (tokens left, 0.0) when allowed, else (tokens,
    seconds until the next request would be). A clock set back refills nothing, rather than
    leaving a key waiting until it catches up."""
    tokens = min(burst, tokens + max(0.0, elapsed) * rate)
    if tokens < 1:
        return tokens, (1 - tokens) / rate
    return tokens - 1, 0.0


class RateLimiter:
    """``per_minute`` requests per key, refilled continuously, with a burst of the same size,
    counted in this process (``create_app``'s default; `paybridge api` shares one file)."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """0 when allowed, else the seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self._burst, now))
            tokens, wait = spend(tokens, now - last, self._rate, self._burst)
            self._buckets[key_id] = (tokens, now)
            return wait


def limiter_file(server_key_path: Path) -> Path:
    """Where the buckets of the API that hashes keys with ``server_key_path`` are counted."""
    return server_key_path.with_name(server_key_path.name + ".ratelimit")


class SharedRateLimiter:
    """``per_minute`` requests per key, refilled continuously, with a burst of the same size,
    counted in ``path`` for every process that opens it (same behaviour as ``RateLimiter``)."""

    def __init__(self, per_minute: int, path: Path) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._thread_lock = threading.Lock()  # flock does not exclude threads of one process
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size != _SIZE or os.pread(fd, _HEADER, 0) != MAGIC:
                    os.ftruncate(fd, 0)  # unknown or torn content: start with full buckets
                    os.ftruncate(fd, _SIZE)
                    os.pwrite(fd, MAGIC, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, _SIZE)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def take(self, key_id: str) -> float:
        """0 when allowed, else the seconds until the next request would be."""
        digest = hashlib.blake2b(key_id.encode(), digest_size=16).digest()
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                return self._take(digest, time.time())
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _take(self, digest: bytes, now: float) -> float:
        offset = self._slot(digest)
        found, tokens, last = _SLOT.unpack_from(self._map, offset)
        if found != digest:
            tokens, last = self._burst, now
        tokens, wait = spend(tokens, now - last, self._rate, self._burst)
        _SLOT.pack_into(self._map, offset, digest, tokens, now)
        return wait

    def _slot(self, digest: bytes) -> int:
        """The offset of ``digest``'s slot: its own, an empty one, or the least recently used."""
        start = int.from_bytes(digest[:8], "little") % SLOTS
        oldest, oldest_at = 0, float("inf")
        for step in range(SLOTS):
            offset = _HEADER + ((start + step) % SLOTS) * _SLOT.size
            found, _tokens, last = _SLOT.unpack_from(self._map, offset)
            if found in (digest, _EMPTY):
                return offset
            if last < oldest_at:
                oldest, oldest_at = offset, last
        return oldest

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
