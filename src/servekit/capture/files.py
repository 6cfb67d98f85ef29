"""The ``file:///DIR`` capture sink: JSON Lines that any number of processes append to.

Every process appends to ``DIR/predictions.jsonl``, each batch of whole lines in one
``write`` on a file opened ``O_APPEND``, so lines from several writers never interleave
or tear. The file is rotated when it passes ``rotate_bytes`` or is older than
``rotate_seconds``: renamed to ``predictions-<UTC time>-<random>.jsonl`` and then gzipped
(``.jsonl.gz``, the plain file removed once the archive is whole).

Ground truth is kept the same way in ``DIR/ground-truth.jsonl``.

Writers hold a shared ``flock`` on ``DIR/.predictions.lock`` while they check and write; the one
that rotates takes it exclusively, so no write can land in a file after it was renamed
(a writer whose open file is no longer the current one reopens it first). The lock
file's modification time is when the current file began.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ACTIVE", "FileSink"]

ACTIVE = "predictions.jsonl"
_WRITE_LIMIT = 1024 * 1024
"""Bytes per ``write`` call (a batch larger than this is split at line ends)."""


class FileSink:
    """Appends JSON lines to ``folder``, rotating and compressing as configured."""

    def __init__(
        self, folder: Path, rotate_bytes: int, rotate_seconds: int, name: str = "predictions"
    ) -> None:
        self.folder = folder
        self.name = name
        self.active = f"{name}.jsonl"
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = folder / f".{name}.lock"
        self._lock = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        self._fd = -1
        self._compress_left()

    def write(self, lines: list[bytes]) -> None:
        """Append ``lines`` (each ending in a newline)."""
        for chunk in _chunks(lines):
            while not self._append(chunk):
                self._rotate()

    def _append(self, chunk: bytes) -> bool:
        """Write ``chunk`` to the current file unless it is due for rotation (False)."""
        with self._locked(fcntl.LOCK_SH):
            current = self._current()
            if current.st_size and self._due(current.st_size):
                return False
            written = os.write(self._fd, chunk)
            if written != len(chunk):  # a full disk: say so, never leave half a line
                raise OSError(
                    f"wrote {written} of {len(chunk)} bytes to {self.folder / self.active}"
                )
            return True

    def _current(self) -> os.stat_result:
        """The current file's status, with this process's descriptor on it."""
        path = self.folder / self.active
        for _ in range(3):
            if self._fd < 0:
                fresh = not path.exists()
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                if fresh:
                    os.utime(self._lock)  # the new file's birth
            mine = os.fstat(self._fd)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == mine.st_ino:
                    return mine
            os.close(self._fd)  # rotated away by another process
            self._fd = -1
        raise OSError(f"{path} keeps changing under this writer")

    def _due(self, size: int) -> bool:
        age = time.time() - os.fstat(self._lock).st_mtime
        return size >= self.rotate_bytes or age >= self.rotate_seconds

    def _rotate(self) -> None:
        rotated = None
        with self._locked(fcntl.LOCK_EX):
            current = self._current()
            if current.st_size and self._due(current.st_size):  # nobody did it meanwhile
                rotated = _rotated_name(self.folder, self.name)
                os.rename(self.folder / self.active, rotated)
                os.utime(self._lock)
                os.close(self._fd)
                self._fd = -1
        if rotated is not None:
            _compress(rotated)

    @contextlib.contextmanager
    def _locked(self, kind: int) -> Iterator[None]:
        fcntl.flock(self._lock, kind)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _compress_left(self) -> None:
        """Compress rotated files a stopped process left uncompressed."""
        for left in sorted(self.folder.glob(f"{self.name}-*.jsonl")):
            _compress(left)

    def close(self) -> None:
        """Close the files (the current one stays for the next writer)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        os.close(self._lock)


def _rotated_name(folder: Path, name: str) -> Path:
    """A name no rotated file (nor its archive) has: the UTC time and a random part."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    while True:
        found = folder / f"{name}-{stamp}-{os.urandom(4).hex()}.jsonl"
        if not found.exists() and not found.with_name(found.name + ".gz").exists():
            return found


def _compress(path: Path) -> None:
    """``path`` gzipped beside it, then removed; skipped when another process is at it."""
    target = path.with_name(path.name + ".gz")
    partial = path.with_name(path.name + ".gz.part")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        with (
            open(path, "rb") as source,
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb") as out,
        ):
            shutil.copyfileobj(source, out, 1024 * 1024)
        os.rename(partial, target)
        path.unlink()
    except FileNotFoundError:  # another process finished it first
        partial.unlink(missing_ok=True)


def _chunks(lines: list[bytes]) -> Iterator[bytes]:
    """``lines`` joined into chunks of at most :data:`_WRITE_LIMIT` bytes (a longer line
    alone)."""
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > _WRITE_LIMIT:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        yield b"".join(chunk)
