"""Worker exits, counted: every worker process that ended, and the requests it took along.

A worker that ends on purpose says why first: it writes a note (``exit_<pid>.txt``) in
the multi-process metrics folder from its exit hook: ``recycled`` (it served
``SERVEKIT_MAX_REQUESTS``), ``timeout`` (replaced after a request overran
``SERVEKIT_TIMEOUT``) or ``stopped`` (a drain or a reload). One that ends without a note
crashed: a segfault in native code, ``os._exit``, the out-of-memory killer, or uWSGI's
harakiri killing it.

The count is made when ``/metrics`` is scraped: each dead process's live-gauge file is
claimed by renaming it (only one scrape can win that), its in-flight requests at death
are read from it (for a crash, those requests were lost: their clients got a 502
``WORKER_LOST`` from the nginx front, or a closed connection), and the scraping worker adds
the exit to ``servekit_workers_lost_total{reason}`` and ``servekit_requests_lost_total``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

from servekit._proc import alive

__all__ = ["CRASHED", "EXIT_REASONS", "Lost", "count_exits", "say_goodbye"]

CRASHED = "crashed"
EXIT_REASONS = ("recycled", "timeout", "stopped", CRASHED)
"""Every ``reason`` label of ``servekit_workers_lost_total``."""
_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db")
_INFLIGHT = "servekit_inflight_requests"

Lost = Callable[[str, float], None]
"""Told of each ended worker: ``(reason, requests it had in flight)``."""


def say_goodbye(folder: str, reason: str) -> None:
    """Leave this process's exit note in the metrics ``folder`` (call it on the way out)."""
    if reason not in EXIT_REASONS:
        raise ValueError(f"unknown exit reason {reason!r}")
    note = Path(folder) / f"exit_{os.getpid()}.txt"
    with contextlib.suppress(OSError):  # never fail an exit over a note
        note.write_text(reason, encoding="ascii")


def count_exits(folder: str, lost: Lost | None) -> None:
    """Forget the live gauges of processes that are gone, telling ``lost`` of each once."""
    for name in os.listdir(folder):
        match = _LIVE_FILE.fullmatch(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if alive(pid):
            continue
        claimed = Path(folder) / f"claimed_{name}.{os.getpid()}"
        try:
            os.rename(Path(folder) / name, claimed)  # atomic: one scrape wins
        except FileNotFoundError:
            continue
        inflight = _inflight(claimed)
        with contextlib.suppress(OSError):
            claimed.unlink()
        for other in os.listdir(folder):  # the dead process's other live gauges
            if other != name and _LIVE_FILE.fullmatch(other) and other.endswith(f"_{pid}.db"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(Path(folder) / other)
        reason = _note(Path(folder) / f"exit_{pid}.txt")
        if lost is not None:
            lost(reason, inflight if reason == CRASHED else 0.0)


def _inflight(path: Path) -> float:
    """The requests in flight recorded in a live-gauge file (0 when unreadable)."""
    try:
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        return max(0.0, float(sum(v for key, v, _, _ in values if _INFLIGHT in key)))
    except (OSError, ValueError, RuntimeError):
        return 0.0


def _note(path: Path) -> str:
    """The exit note's reason (and the note removed), or ``crashed`` without one."""
    try:
        reason = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return CRASHED
    with contextlib.suppress(OSError):
        path.unlink()
    return reason if reason in EXIT_REASONS else CRASHED
