"""uWSGI options generated from the settings, and the ``exec`` into uWSGI.

``servekit serve`` replaces itself with uWSGI (no shell or parent in between, so
uWSGI's master receives SIGTERM directly). uWSGI imports :mod:`servekit.serving.wsgi` in
each worker after fork (or once in the master with ``preload``), which loads the model.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn, Union

from servekit.errors import ConfigError
from servekit.logs import share_stderr
from servekit.metrics.server import MULTIPROC_ENV, prepare_start_dir
from servekit.serving.front import BACKLOG, NGINX_CONF, WORKER_SOCKET, prepare_nginx
from servekit.serving.grpc_server import PIDFILE as GRPC_PIDFILE
from servekit.serving.jobs import daemon_option, servekit_daemon
from servekit.serving.uwsgi_log import LOGGER
from servekit.settings import Settings

__all__ = ["exec_uwsgi", "render_ini", "uwsgi_argv", "uwsgi_binary", "uwsgi_options"]

Option = tuple[str, Union[str, int, bool]]
WSGI_MODULE = "servekit.serving.wsgi:application"


HARAKIRI_EXTRA_SECONDS = 5
DRAIN_MODULE = "servekit.serving.drain"
LOG_MODULE = "servekit.serving.uwsgi_log"
LOG_MASTER_BUFFER = 1024 * 1024
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
"""The master's read buffer for one write to its log socket: larger than any message
the socket takes (a longer write is refused and cut by :mod:`servekit.logs`)."""


def start_dir(settings: Settings, pid: int) -> Path:
    """This start's folder for runtime files (metrics, master FIFO); not created here."""
    return settings.runtime_path / f"start-{pid}"


def uwsgi_options(
    settings: Settings, project_dir: Path, pid: int | None = None, nginx: str | None = None
) -> list[Option]:
    """The uWSGI options for ``settings``, in the order they are passed.

    ``pid`` is the server's process id (this process's: uWSGI replaces it). With
    ``nginx`` (its binary) the workers listen on a unix socket in the start folder and
    the master runs nginx in front of them; else each worker is on the wire itself.
    """
    runtime = start_dir(settings, os.getpid() if pid is None else pid)
    options: list[Option] = [
        ("strict", True),
        ("master", True),
        # Every process's stdout and stderr go to the master, which writes them to the
        # server's stderr in servekit's format (servekit.serving.uwsgi_log).
        ("log-master", True),
        ("log-master-bufsize", LOG_MASTER_BUFFER),
        ("logger", f"python:{LOGGER}"),
        ("shared-import", LOG_MODULE),
    ]
    if nginx is not None:
        if any(c in f"{nginx}{runtime}" for c in ", "):
            raise ConfigError(
                f"the nginx path {nginx!r} or the runtime folder {runtime} contains a comma "
                "or space, which uWSGI's daemon option cannot pass (SERVEKIT_RUNTIME_DIR)"
            )
        options += [
            ("socket", str(runtime / WORKER_SOCKET)),
            # Requests past the workers queue here, as at nginx's own sockets, not
            # refused: a refused connection is nginx's 502.
            ("listen", listen_backlog()),
            # exec: nginx itself is the daemon, so the stop signal (QUIT: finish the
            # requests in hand, then exit) reaches it, after the workers have stopped.
            ("attach-daemon2", f"cmd=exec {nginx} -c {runtime / NGINX_CONF},stopsignal=3"),
        ]
    else:
        options += [
            ("http-socket", f"{settings.host}:{settings.port}"),
            # One request per connection: say so, or a pooling client or a proxy with
            # upstream keep-alive sends its next request into a closed socket.
            ("add-header", "Connection: close"),
            # uWSGI's chunk reader refuses a chunk over its buffer (1 MiB by default):
            # any chunk of an under-limit body must fit.
            ("chunked-input-limit", settings.max_body_bytes + 64 * 1024),
        ]
        if settings.metrics_port:
            options.append(("http-socket", f"{settings.host}:{settings.metrics_port}"))
    options += [
        ("processes", settings.worker_processes),
        ("threads", settings.threads),
        ("enable-threads", True),
        ("module", WSGI_MODULE),
        ("chdir", str(project_dir)),
        ("need-app", True),
        ("die-on-term", True),
        ("single-interpreter", True),
        # servekit answers 504 at `timeout`; harakiri only kills code stuck in C.
        ("harakiri", settings.timeout + HARAKIRI_EXTRA_SECONDS),
        # SIGTERM -> uWSGI signal 15 in every worker -> servekit.serving.drain. A worker
        # sent SIGTERM itself (a process group's, from systemd or `timeout`) routes it the
        # same way rather than dying, which lost the drain and left the master serving.
        ("master-fifo", str(runtime / "master.fifo")),
        ("shared-import", DRAIN_MODULE),
        ("hook-master-start", "unix_signal:15 uwsgi_route_signal"),
        ("hook-accepting", "unix_signal:15 uwsgi_route_signal"),
        # The largest uWSGI allows: servekit itself answers 431 past 32 KiB of headers.
        ("buffer-size", 65535),
        ("disable-logging", True),
        ("ignore-sigpipe", True),
        ("ignore-write-errors", True),
        ("disable-write-exception", True),
        ("thunder-lock", True),
        ("vacuum", True),
        ("auto-procname", True),
        ("procname-prefix-spaced", "servekit"),
    ]
    if not settings.preload:
        options.append(("lazy-apps", True))
    if settings.async_workers:
        options.append(("attach-daemon2", daemon_option(settings, runtime)))
    if settings.grpc_port:
        grpc = servekit_daemon(["grpc"], runtime / GRPC_PIDFILE, "SERVEKIT_GRPC_PORT")
        options.append(("attach-daemon2", grpc))
    if settings.max_requests:
        options.append(("max-requests", settings.max_requests))
        options.append(("max-requests-delta", settings.max_requests_jitter))
        # uWSGI otherwise ignores max-requests for a worker's first 10 seconds.
        options.append(("min-worker-lifetime", 1))
    if sys.prefix != sys.base_prefix:  # a virtual environment: uWSGI's Python must use it
        options.append(("home", sys.prefix))
    return options


def listen_backlog(limit: int = BACKLOG, somaxconn: Path = SOMAXCONN) -> int:
    """The workers' socket backlog: ``limit``, or the kernel's maximum when lower
    (uWSGI refuses to start with more)."""
    try:
        return max(1, min(limit, int(somaxconn.read_text(encoding="ascii"))))
    except (OSError, ValueError):
        return 128  # the historical Linux maximum


def uwsgi_binary() -> str:
    """The uwsgi executable beside this Python (its venv), else on PATH."""
    beside = Path(sys.executable).with_name("uwsgi")
    if beside.exists():
        return str(beside)
    found = shutil.which("uwsgi")
    if found is None:
        raise ConfigError(
            "the uwsgi executable was not found; install it with "
            "`pip install uwsgi` (servekit depends on it) or use --dev"
        )
    return found


def uwsgi_argv(options: list[Option]) -> list[str]:
    """Command-line arguments for uWSGI (``--flag`` for true booleans)."""
    argv: list[str] = []
    for name, value in options:
        if value is True:
            argv.append(f"--{name}")
        elif value is not False:
            argv.extend([f"--{name}", str(value)])
    return argv


def render_ini(options: list[Option]) -> str:
    """The options as a uWSGI ini file, for ``servekit serve --print-config``."""
    lines = ["[uwsgi]"]
    for name, value in options:
        if value is not False:
            lines.append(f"{name} = {'true' if value is True else value}")
    return "\n".join(lines) + "\n"


def exec_uwsgi(settings: Settings, project_dir: Path, nginx: str | None = None) -> NoReturn:
    """Replace this process with uWSGI serving ``settings``; never returns.

    Each start gets its own folder (metrics files, master FIFO, the workers' socket and
    nginx's files), so counts from all workers add up and start from zero, and a failed
    second start on the same port cannot disturb a running server. With ``nginx`` its
    configuration is written there and checked first.
    """
    binary = uwsgi_binary()
    runtime = prepare_start_dir(start_dir(settings, os.getpid()).parent, os.getpid())
    if nginx is not None:
        prepare_nginx(settings, runtime, nginx)
    log_fd, log_env = share_stderr()  # where the master and the workers write the log
    env = {**os.environ, **settings.to_env(), MULTIPROC_ENV: str(runtime / "metrics"), **log_env}
    # safe-fd: a reload (SIGHUP) re-execs the master, which closes every other descriptor.
    options = [*uwsgi_options(settings, project_dir, nginx=nginx), ("safe-fd", log_fd)]
    argv = uwsgi_argv(options)
    os.execve(binary, [binary, *argv], env)
