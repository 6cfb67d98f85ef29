"""Start the servers under test the same way: same processes, same cores.

``servekit`` is started with its real command (``python -m servekit serve``), from the
working tree or, with ``src``, from another tree's ``src`` folder (``--against``); the
baseline is a bare Flask app on uWSGI (:mod:`benchmarks.baseline_app`); ``mlflow`` is
MLflow's own scoring server (``mlflow models serve``: uvicorn). Each runs pinned
to the server cores (taskset), its cold start is timed from process start to the first
correct answer, and the resident memory of its whole process tree is sampled while it
runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import _one, http_request

__all__ = ["Server", "pythonpath", "start"]

ROOT = Path(__file__).resolve().parent.parent


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parent = int(f.read().rsplit(b")", 1)[-1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _daemon(pid: int) -> bool:
    """Whether ``pid`` is a process servekit runs beside its workers (``servekit grpc``,
    ``servekit worker``), or one of theirs."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().split(b"\0")
    except OSError:
        return False
    return b"servekit" in command and any(w in command for w in (b"grpc", b"worker"))


def _kind(pid: int) -> str:
    """``nginx``, ``worker`` (a uWSGI worker) or ``other`` (uWSGI's master)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if Path(command.split(" ", 1)[0].rstrip(":")).name == "nginx":
        return "nginx"
    return "worker" if "worker" in command else "other"


@dataclass
class Server:
    """A running server, its cold start, and its peak memory so far."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    cold_start_s: float = 0.0
    peak_tree_mb: float = 0.0
    peak_worker_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample_memory(self) -> None:
        """Sample RSS every 100 ms until stopped (run in a thread)."""
        while not self._stop.wait(0.1):
            pids = _tree(self.process.pid)
            sizes = [_rss_mb(p) for p in pids]
            self.peak_tree_mb = max(self.peak_tree_mb, sum(sizes))
            # uWSGI's workers: not the master, nor a gRPC or job process beside them
            workers = [_rss_mb(p) for p in pids if p != self.process.pid and not _daemon(p)]
            if workers:
                self.peak_worker_mb = max(self.peak_worker_mb, max(workers))

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds used so far by the server's processes, by kind."""
        used: dict[str, float] = {}
        for pid in _tree(self.process.pid):
            kind = _kind(pid)
            used[kind] = used.get(kind, 0.0) + _cpu_seconds(pid)
        return used

    def cpu_us_per_request(self, before: dict[str, float], requests: int) -> dict[str, float]:
        """CPU microseconds per request since ``before`` (:meth:`cpu_by_kind`), by kind."""
        after = self.cpu_by_kind()
        return {
            kind: round(1e6 * (after[kind] - before.get(kind, 0.0)) / requests, 1)
            for kind in after
            if requests
        }

    def stop(self) -> None:
        """SIGTERM by PID, bounded wait, SIGKILL of its group if needed."""
        self._stop.set()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except BaseException as exc:  # too slow to stop, or Ctrl-C while waiting
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
                if not isinstance(exc, subprocess.TimeoutExpired):
                    raise


def start(
    name: str,
    target: str,
    port: int,
    processes: int,
    cpus: str,
    probe: tuple[str, bytes, bytes],
    timeout: float = 30.0,
    extra: tuple[str, ...] = (),
    src: Path | None = None,
    log: Path | None = None,
) -> Server:
    """Start ``servekit`` (with ``extra`` flags), ``baseline`` or ``mlflow`` (MLflow's own
    scoring server, ``mlflow models serve`` in this environment, ``processes`` uvicorn
    workers) serving ``target``; wait for a correct answer. ``src``: import servekit from
    that folder first (uWSGI's workers inherit the environment); ``log``: the server's
    output goes there."""
    env = {**os.environ, "PYTHONPATH": pythonpath(src)}
    if name == "mlflow":  # it runs `exec uvicorn ...` in a shell: the venv's, on PATH
        bin_dir = Path(sys.executable).parent
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        command = [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            target,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            str(processes),
            *extra,
        ]
    elif name == "servekit":
        command = [
            sys.executable,
            "-m",
            "servekit",
            "serve",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--processes",
            str(processes),
            "--threads",
            "1",
            "--drain-seconds",
            "0",
            *extra,
        ]
    else:
        env["BENCH_TARGET"] = target
        uwsgi = Path(sys.executable).with_name("uwsgi")
        command = [
            str(uwsgi) if uwsgi.exists() else "uwsgi",
            "--master",
            "--die-on-term",
            "--http-socket",
            f"127.0.0.1:{port}",
            "--processes",
            str(processes),
            "--threads",
            "1",
            "--enable-threads",
            "--lazy-apps",
            "--need-app",
            "--single-interpreter",
            "--disable-logging",
            "--thunder-lock",
            "--module",
            "benchmarks.baseline_app:app",
        ]
        if sys.prefix != sys.base_prefix:
            command += ["--home", sys.prefix]
    started = time.perf_counter()
    with open(log or os.devnull, "wb") as output:  # the child keeps its own copy
        process = subprocess.Popen(
            ["taskset", "-c", cpus, *command],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=output,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, process, port)
    threading.Thread(target=server.sample_memory, daemon=True).start()
    path, body, expect = probe
    request = http_request(path, body)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} during start")
            if not asyncio.run(_one(port, request, expect, 1.0)):
                server.cold_start_s = time.perf_counter() - started
                return server
            time.sleep(0.01)
    except BaseException:  # Ctrl-C while waiting: no server left behind
        server.stop()
        raise
    server.stop()
    raise RuntimeError(f"{name} gave no correct answer within {timeout} s")


def pythonpath(src: Path | None = None) -> str:
    """PYTHONPATH for a server: ``src`` (another tree's servekit) before the repository."""
    return str(ROOT) if src is None else f"{src}{os.pathsep}{ROOT}"
