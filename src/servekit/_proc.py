"""Small process facts from the operating system (Linux /proc where needed), and each
server start's folder. Imports no prometheus_client: its multi-process mode is chosen when
it is first imported, so entry points set :data:`MULTIPROC_ENV` with this module first."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["MULTIPROC_ENV", "alive", "children", "prepare_start_dir"]

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


def prepare_start_dir(parent: Path, pid: int) -> Path:
    """A new, empty folder for one server start: ``parent/start-<pid>``.

    ``pid`` is the server's (``servekit serve`` execs uWSGI, so it is the master's). Folders
    of earlier starts whose process is gone are removed; those of a live server (say,
    another start on the same port that is still serving) are left alone, as is
    anything else in ``parent``.
    """
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob("start-*"):
        owner = stale.name.removeprefix("start-")
        if owner.isdigit() and not alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    here = parent / f"start-{pid}"
    if here.exists():  # a dead server with our (reused) pid
        shutil.rmtree(here)
    (here / "metrics").mkdir(parents=True)
    return here
