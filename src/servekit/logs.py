"""Log lines: one JSON object per line (default) or plain text for humans.

:func:`configure_logging` is called by the entry points (CLI, uWSGI worker), never at
import. Fields passed with ``extra=`` (``request_id``, ``route``, ``code``, ...) become
keys of the JSON line. Every record made while a request is handled carries that
request's id (:data:`request_id_var`), the model's own log records too.

:func:`capture_prints` turns what user code prints into log records (one per line,
logger ``servekit.user``), so a stray ``print`` never breaks the JSON log format.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson

__all__ = [
    "AccessLog",
    "JsonFormatter",
    "capture_prints",
    "configure_logging",
    "request_id_var",
]

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


def configure_logging(log_format: str = "json", level: str = "info") -> None:
    """Send servekit's (and the user's) log records to stderr in the chosen format.

    The handler writes to the process's real stderr, so :func:`capture_prints` can
    replace ``sys.stderr`` without looping.
    """
    handler = logging.StreamHandler(sys.__stderr__)
    handler.addFilter(_RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class AccessLog:
    """The one line per request, written straight to stderr in the configured format.

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
        self._write = write if write is not None else (lambda data: os.write(2, data))

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
