"""An output file that is hashed as it is written and made durable a slice at a time.

Why: a pack's manifest vouches for the files beside it, so their bytes should be on disk
before the manifest is, and their sha256 is needed anyway. Taking the hash from the bytes on
their way out saves reading every file back. Syncing each slice and dropping it from the page
cache keeps the cache from growing by the size of the outputs: on virtual machines whose host
takes back the guest's free memory (free page reporting), every page the cache grows by costs
kernel time on first touch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import TracebackType

#: bytes written between two syncs; 8-64 MiB measured the same here, a slice is never held
SLICE_BYTES = 32 << 20

_sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class HashedOutput:
    """A write-only binary file (what Arrow's writers take as a file-like object) that keeps
    the sha256 of everything written and, every `SLICE_BYTES`, syncs the file and lets the page
    cache drop what is on disk. `close()` syncs the rest; `hexdigest()` is final once closed.
    The file is created (or truncated) with mode 0o666 less the umask, as `open()` would."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self._digest = hashlib.sha256()
        self._unsynced = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        self._digest.update(view)
        written = 0
        while written < len(view):  # os.write may write less than asked
            written += os.write(self._fd, view[written:])
        self._unsynced += written
        if self._unsynced >= SLICE_BYTES:
            self._sync_and_drop()
        return written

    def _sync_and_drop(self) -> None:
        _sync(self._fd)
        if hasattr(os, "posix_fadvise"):  # not on macOS: there the cache keeps the pages
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
        self._unsynced = 0

    def flush(self) -> None:
        """Nothing is buffered here (each write goes to the file)."""

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._sync_and_drop()
        finally:
            os.close(self._fd)
            self.closed = True

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def __enter__(self) -> HashedOutput:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
