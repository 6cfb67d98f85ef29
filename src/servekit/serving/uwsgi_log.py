"""The server's one log stream, under uWSGI: every line in servekit's format.

uWSGI runs with ``--log-master``: its master collects what every process it started
writes to stdout or stderr (uWSGI's own lines, nginx's error log, the job workers, a
native library, a dying interpreter) through a socket pair, and hands each write to the
Python logger ``--logger python:servekit.uwsgi.master``. This module, imported in the
master (``--shared-import``), handles that logger, and writes to the server's stderr
(:data:`servekit.logs.LOG_FD_ENV`):

- a line already in servekit's format (the job workers') passes untouched;
- uWSGI's lines become ``uwsgi`` records: what an operator needs (the version, the
  listening socket, the mode, each process started or lost, harakiri, the stop) at info
  or above; the rest of its start-up report, the routine of recycling and stopping a
  worker and the notes that are no problem here at ``debug`` (``--print-config`` shows
  the whole configuration); "running as root" once, as a warning;
- nginx's error lines become ``nginx`` records at their own level;
- ``servekit: error:`` lines (a process that could not start) are ``servekit`` errors;
- anything else is an ``output`` record, a warning: a line some process wrote straight
  to its stdout or stderr.

The HTTP workers write their own lines (the access log above all) straight to the
server's stderr, not through the master, so a request costs no more than before.
:func:`classify` is I/O-free; the rest runs only in uWSGI's master.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass

import orjson

from servekit.logs import formatter, log_fd, write_line
from servekit.serving import loadfail
from servekit.settings import Settings

__all__ = ["AS_ROOT", "LOGGER", "Line", "classify", "install"]

LOGGER = "servekit.uwsgi.master"
"""The Python logger uWSGI's master hands every collected write to."""
DEBUG, INFO, WARNING, ERROR, CRITICAL = (
    logging.DEBUG,
    logging.INFO,
    logging.WARNING,
    logging.ERROR,
    logging.CRITICAL,
)


@dataclass(frozen=True)
class Line:
    """One collected line as a record: its logger, level and message."""

    logger: str
    level: int
    message: str


_UWSGI: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), level)
    for pattern, level in (
        # What an operator needs.
        (r"Starting uWSGI ", INFO),
        (r"uwsgi socket \d+ (bound to|inherited) ", INFO),
        (r"Operational MODE: ", INFO),
        (r"(gracefully \(RE\))?spawned uWSGI (master|worker) |binary reloading uWSGI", INFO),
        (r"Respawned uWSGI worker ", INFO),
        (r"\[uwsgi-daemons\] spawning ", INFO),
        (r"graceful shutdown triggered", INFO),
        (r"SIGINT/SIGTERM received", INFO),
        (r"goodbye to uWSGI", INFO),
        (r"\[uwsgi-daemons\] (respawning|throttling|daemon did not die)", WARNING),
        (r"\[deadlock-detector\] ", WARNING),
        (r"DAMN ! worker ", ERROR),
        # A worker that cannot load the model has said why, once (serving.loadfail).
        (r"OOPS ! failed loading app|need-app requested", DEBUG),
        (r"worker \d+ \(pid: \d+\) is taking too much time to die|uWSGI listen queue ", WARNING),
        (r"SIGNAL QUEUE IS FULL", WARNING),
        (r"HARAKIRI", ERROR),
        (r"uWSGI process \d+ got ", ERROR),
        (r"backtrace of \d+|end of backtrace", ERROR),
        # The rest of the start-up report, and routine.
        (
            r"compiled with version|os: |nodename: |machine: |clock source: |pcre jit"
            r"|detected (number of CPU cores|binary path|max file descriptor number)"
            r"|current working directory: |your (processes number|process address space)"
            r"|your memory page size|your server socket listen backlog|your mercy for "
            r"|lock engine: |thunder lock: |mapped \d+ bytes|chdir\(\) to "
            r"|Python (version|main interpreter initialized)|PEP 405 virtualenv"
            r"|Set PythonHome|python threads support|added .* to pythonpath"
            r"|\[uwsgi-signal\] signum|running \".*\" \((master-start|accepting)\)"
            r"|WSGI app \d+ \(mountpoint=|uWSGI is running in multiple interpreter mode"
            r"|setting request body buffering size",
            DEBUG,
        ),
        # uWSGI built without PCRE says so at every start; servekit routes nothing. The
        # harakiri note is about a worker reading a slow upload itself: nginx reads the
        # whole body first, and the direct front is for use behind a buffering proxy.
        (r"no internal routing support|WARNING: you have enabled harakiri without", DEBUG),
        (r"WARNING: you are running uWSGI as root", DEBUG),  # said once: AS_ROOT
        (
            r"\.\.\.The work of process \d+ is done|worker \d+ killed successfully"
            r"|Gracefully killing worker|\.\.\.gracefully killing workers"
            r"|worker \d+ buried after|VACUUM: |VACUUM WARNING: |\[uwsgi-daemons\] stopping daemon"
            r"|closing all non-uwsgi socket fds|found fd \d+ mapped to|running /\S*uwsgi$",
            DEBUG,
        ),
    )
)
_STOP_LINES = ("SIGINT/SIGTERM received", "goodbye to uWSGI")
_AS_ROOT = re.compile(r"uWSGI running as root")
AS_ROOT = "uWSGI is running as root (give the server a user of its own)"
"""The one line said for uWSGI's five "running as root"."""
_NGINX = re.compile(r"(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d|nginx:) \[(\w+)\] (.*)")
_NGINX_LEVELS = {
    "debug": DEBUG,
    "info": INFO,
    "notice": INFO,
    "warn": WARNING,
    "error": ERROR,
    "crit": CRITICAL,
    "alert": CRITICAL,
    "emerg": CRITICAL,
}
_CTIME = re.compile(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - ")
_DECORATION = re.compile(r"^[*!\s]+|[*!\s]+$")
_TEXT_RECORD = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[.,]\d{3}Z? (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "
)
_KEYS = ("time", "level", "logger", "message")


def classify(line: str, *, as_root_seen: bool = False) -> Line | None:
    """What to log for one collected ``line`` (no newline); None for a line servekit
    wrote as JSON (a job worker's), which passes untouched."""
    if line.startswith("{") and line.endswith("}") and _is_json_record(line):
        return None
    text = _CTIME.sub("", line.strip(), count=1)
    nginx = _NGINX.match(text)
    if nginx:
        return Line("nginx", _NGINX_LEVELS.get(nginx.group(1), WARNING), nginx.group(2))
    if text.startswith("servekit: error:"):
        return Line("servekit", ERROR, text)
    tidy = _DECORATION.sub("", text)
    if _AS_ROOT.match(tidy):
        return Line("uwsgi", DEBUG if as_root_seen else WARNING, AS_ROOT)
    for pattern, level in _UWSGI:
        if pattern.match(tidy):
            return Line("uwsgi", level, tidy)
    return Line("output", WARNING, line.rstrip())


def _is_json_record(line: str) -> bool:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and all(key in value for key in _KEYS)


class _MasterHandler(logging.Handler):
    """The handler of :data:`LOGGER`: one write from a process in, servekit's lines out."""

    def __init__(self, fd: int, log_format: str, level: int) -> None:
        super().__init__()
        self.fd = fd
        self.threshold = level
        self.text = log_format != "json"
        self.setFormatter(formatter(log_format))
        self.as_root_seen = False

    def emit(self, record: logging.LogRecord) -> None:
        chunk = record.getMessage()
        # After a failed load the server stops at once: its error line has said why,
        # and uWSGI's stop lines are routine (said at debug).
        failed = chunk.startswith(_STOP_LINES) and loadfail.claimed(loadfail.start_folder())
        if not failed or self.threshold <= DEBUG:
            with contextlib.suppress(Exception):  # never into the socket this drains
                write_line(self.fd, self.render(chunk))
        if failed and chunk.startswith("goodbye to uWSGI"):  # the master's last word
            loadfail.exit_if_failed()

    def render(self, chunk: str) -> bytes:
        """Servekit's lines for one collected write (one write, one text record: a text
        record passes whole, its traceback with it)."""
        if self.text and _TEXT_RECORD.match(chunk):
            return chunk.encode("utf-8", "replace") + (b"" if chunk.endswith("\n") else b"\n")
        out: list[str] = []
        for line in chunk.splitlines():
            found = classify(line, as_root_seen=self.as_root_seen) if line.strip() else None
            if found is None:
                if line.strip():
                    out.append(line)
                continue
            self.as_root_seen = self.as_root_seen or found.message == AS_ROOT
            if found.level >= self.threshold:
                made = logging.LogRecord(
                    found.logger, found.level, "", 0, found.message, None, None
                )
                out.append(self.format(made))
        return "".join(f"{line}\n" for line in out).encode("utf-8", "replace")


def install(settings: Settings, fd: int) -> None:
    """Handle :data:`LOGGER` in this process (uWSGI's master), writing to ``fd``."""
    logger = logging.getLogger(LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    level = logging.getLevelName(settings.log_level.upper())
    logger.addHandler(_MasterHandler(fd, settings.log_format, level))
    logger.propagate = False  # the root's handlers (or Python's last resort) write to
    logger.setLevel(logging.DEBUG)  # the very socket this logger drains


def _install() -> None:
    try:
        import uwsgi
    except ImportError:
        return
    if uwsgi.worker_id() != 0:
        return
    logger = logging.getLogger(LOGGER)
    logger.propagate = False  # first: no record of this logger may reach the socket again
    logger.addHandler(logging.NullHandler())
    fd = log_fd()
    if fd == 2:  # no copy of the server's stderr (not started by servekit serve)
        return
    try:
        settings = Settings.from_env(os.environ)
    except Exception:  # checked by servekit serve already; never lose the log over it
        settings = Settings()
    install(settings, fd)


_install()
