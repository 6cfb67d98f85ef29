"""Small process facts from the operating system (Linux /proc where needed)."""

from __future__ import annotations

import contextlib
import os

__all__ = ["alive", "children"]


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
