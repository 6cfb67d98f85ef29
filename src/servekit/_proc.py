"""Small process facts from the operating system (Linux /proc where needed), and each
server start's folder. Imports no prometheus_client: its multi-process mode is chosen when
it is first imported, so entry points set :data:`MULTIPROC_ENV` with this module first."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from servekit.errors import ConfigError

__all__ = ["MULTIPROC_ENV", "alive", "children", "parent_of", "prepare_start_dir", "private_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's multi-process folder: set before it is first imported."""


def alive(pid: int) -> bool:
    """True while process ``pid`` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parent_of(pid: int) -> int:
    """The parent process id of ``pid`` (0 when it cannot be read: gone, or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (from /proc; empty where there is none)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with (
                contextlib.suppress(OSError, ValueError, IndexError),
                open(f"/proc/{entry}/stat", "rb") as f,
            ):
                if int(f.read().rsplit(b")", 1)[-1].split()[1]) == parent:
                    found.append(int(entry))
    return found


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter: made 0700, or an existing one checked.

    An existing folder must be a real folder (not a link) owned by this user; one that
    group or others may write to is refused (another user could have planted files in
    it); one they may only read or enter is closed to them (0700). Anything else is a
    ConfigError naming the folder and how to choose another.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    fix = "remove it, or choose another folder with SERVEKIT_RUNTIME_DIR"
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"the runtime folder {path} is not a folder (a link?): {fix}")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"the runtime folder {path} belongs to another user (uid {info.st_uid}), who "
            f"could read or plant servekit's files there: {fix}"
        )
    if info.st_mode & 0o022:
        raise ConfigError(
            f"the runtime folder {path} can be written by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}): {fix}"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def prepare_start_dir(parent: Path, pid: int) -> Path:
    """A new, empty folder for one server start: ``parent/start-<pid>``, private (0700)
    inside a private ``parent`` (:func:`private_dir`).

    ``pid`` is the server's (``servekit serve`` execs uWSGI, so it is the master's). Folders
    of earlier starts whose process is gone are removed; those of a live server (say,
    another start on the same port that is still serving) are left alone, as is
    anything else in ``parent``.
    """
    private_dir(parent)
    for stale in parent.glob("start-*"):
        owner = stale.name.removeprefix("start-")
        if owner.isdigit() and not alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    here = parent / f"start-{pid}"
    if here.exists():  # a dead server with our (reused) pid
        shutil.rmtree(here)
    here.mkdir(mode=0o700)
    (here / "metrics").mkdir(mode=0o700)
    return here
