"""Log lines: one JSON object per line (default) or plain text for humans.

:func:`configure_logging` is called by the entry points (CLI, uWSGI worker), never at
import. Fields passed with ``extra=`` (``request_id``, ``route``, ``code``, ...) become
keys of the JSON line. Every record made while a request is handled carries that
request's id (:data:`request_id_var`), the model's own log records too.

:func:`capture_prints` turns what user code prints into log records (one per line,
logger ``servekit.user``), so a stray ``print`` never breaks the JSON log format.

Where the lines go: the process's stderr, or, under ``servekit serve``, the server's own
stderr named by :data:`LOG_FD_ENV`. There uWSGI's log master has made every process's
stdout and stderr a socket to the master (:mod:`servekit.serving.uwsgi_log`), and
servekit's lines, the access log above all, go round it: one ``write`` each, no hop.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import io
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

import orjson

__all__ = [
    "LOG_FD_ENV",
    "AccessLog",
    "JsonFormatter",
    "capture_prints",
    "configure_logging",
    "formatter",
    "json_configured",
    "log_fd",
    "request_id_var",
    "share_stderr",
    "write_line",
]

LOG_FD_ENV = "SERVEKIT_LOG_FD"
"""The server's stderr, as ``FD:DEVICE:INODE``: set by ``servekit serve`` before it execs
uWSGI, used only by a process that still holds that very file (a daemon uWSGI started has
it closed, and the number may since name another file)."""
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_WAIT_WRITABLE_MS = 1000
_MAX_LINE_BYTES = 64 * 1024
"""A record longer than this is cut, when its file refuses it as one message."""

request_id_var: ContextVar[str | None] = ContextVar("servekit_request_id", default=None)
"""The id of the request being handled in this thread, if any."""

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        text = super().format(record)
        return f"{text} {extras}" if extras else text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = request_id_var.get()
            if request_id is not None:
                record.request_id = request_id
        return True


class _PrintToLog(io.TextIOBase):
    """A stand-in for sys.stdout / sys.stderr: each printed line becomes a log record."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger = logger
        self._level = level
        self._pending = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._logger.log(self._level, "%s", line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._pending = self._pending, ""
        if line.strip():
            self._logger.log(self._level, "%s", line)


def capture_prints() -> None:
    """Route ``print`` (stdout) and stray stderr writes through logging."""
    sys.stdout = _PrintToLog(logging.getLogger("servekit.user.stdout"), logging.INFO)
    sys.stderr = _PrintToLog(logging.getLogger("servekit.user.stderr"), logging.WARNING)


def share_stderr() -> tuple[int, dict[str, str]]:
    """Keep a copy of this process's stderr open across ``exec``: the descriptor, and
    the environment entry (:data:`LOG_FD_ENV`) that names it to uWSGI's processes."""
    fd = os.dup(2)
    os.set_inheritable(fd, True)
    stat = os.fstat(fd)
    return fd, {LOG_FD_ENV: f"{fd}:{stat.st_dev}:{stat.st_ino}"}


def log_fd(environ: Mapping[str, str] = os.environ) -> int:
    """The descriptor for this process's log lines: the server's stderr named by
    :data:`LOG_FD_ENV` when this process holds it, else 2."""
    try:
        number, device, inode = (int(part) for part in environ[LOG_FD_ENV].split(":"))
        stat = os.fstat(number)
    except (KeyError, ValueError, OSError):
        return 2
    if number < 3 or (stat.st_dev, stat.st_ino) != (device, inode):
        return 2
    return number


def write_line(fd: int, data: bytes) -> None:
    """Write ``data`` (whole lines) to ``fd``; wait (bounded) while a non-blocking file is
    full, as uWSGI's log socket is in the processes it started."""
    try:
        written = os.write(fd, data)  # the access log's one system call
    except (BlockingIOError, InterruptedError):
        written = 0
    if written < len(data):
        _write_rest(fd, memoryview(data)[written:])


def _write_rest(fd: int, view: memoryview) -> None:
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if not poller.poll(_WAIT_WRITABLE_MS):
                return  # the reader is stuck: drop the line rather than the process
        except InterruptedError:
            continue


class _LineHandler(logging.Handler):
    """Writes each record as one line (one ``write`` for short lines) to a descriptor."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
            try:
                write_line(self.fd, data)
            except OSError as exc:  # a datagram over the socket's limit
                if exc.errno != errno.EMSGSIZE:
                    raise
                write_line(self.fd, self._cut(record, len(data)))
        except Exception:
            self.handleError(record)

    def _cut(self, record: logging.LogRecord, size: int) -> bytes:
        note = f" [cut: the line was {size} bytes]"
        short = logging.makeLogRecord(
            {**vars(record), "msg": record.getMessage()[: _MAX_LINE_BYTES // 4] + note}
        )
        short.args, short.exc_info, short.exc_text = None, None, None
        traceback = getattr(short, "traceback", None)
        if isinstance(traceback, str):
            short.__dict__["traceback"] = traceback[-_MAX_LINE_BYTES // 4 :]
        return (self.format(short) + "\n").encode("utf-8", "replace")


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of servekit's log lines in ``log_format`` (``json`` or ``text``)."""
    return JsonFormatter() if log_format == "json" else _TextFormatter(_TEXT_FORMAT)


def configure_logging(log_format: str = "json", level: str = "info") -> None:
    """Send servekit's (and the user's) log records to stderr in the chosen format.

    The handler writes to the descriptor itself (:func:`log_fd`), so
    :func:`capture_prints` can replace ``sys.stderr`` without looping.
    """
    handler = _LineHandler(log_fd())
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def json_configured() -> bool:
    """Whether :func:`configure_logging` set the JSON format in this process."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


class AccessLog:
    """The one line per request, written straight to the log (:func:`log_fd`) in the
    configured format.

    It is on every request's path, so it skips the logging machinery (record, filters,
    formatter: about 25 us) and writes one pre-formatted line (a few us). The line has
    the same shape as every other log line (``logger`` is ``servekit.access``).
    """

    def __init__(
        self,
        log_format: str = "json",
        level: str = "info",
        write: Callable[[bytes], object] | None = None,
    ) -> None:
        self.enabled = logging.getLevelName(level.upper()) <= logging.INFO
        self._json = log_format == "json"
        self._write = write if write is not None else functools.partial(write_line, log_fd())

    def request(self, fields: dict[str, Any]) -> None:
        """Write the line for one answered request."""
        if not self.enabled:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        stamp = f"{stamp}.{int(now * 1000) % 1000:03d}Z"
        if self._json:
            line = (
                orjson.dumps(
                    {
                        "time": stamp,
                        "level": "info",
                        "logger": "servekit.access",
                        "message": "request",
                        **fields,
                    }
                )
                + b"\n"
            )
        else:
            pairs = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{stamp} INFO servekit.access: request {pairs}\n".encode()
        self._write(line)
