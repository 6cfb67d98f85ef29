"""The checks every :class:`~servekit.settings.Settings` passes when made: each setting's
allowed values, named in one ConfigError (``SERVEKIT_PORT must be ..., got ...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from servekit._env import amqp_checks, env_name
from servekit.errors import ConfigError

if TYPE_CHECKING:
    from servekit.settings import Settings

__all__ = ["CAPTURE_SCHEMES", "FRONTS", "LOG_FORMATS", "LOG_LEVELS", "check"]

LOG_FORMATS = ("json", "text")
FRONTS = ("auto", "nginx", "direct")
LOG_LEVELS = ("debug", "info", "warning", "error")


def check(s: Settings) -> None:
    """Raise ConfigError for the first setting of ``s`` outside its allowed values."""
    checks = [
        (1 <= s.port <= 65535, "port", "a TCP port, 1..65535"),
        (s.front in FRONTS, "front", " or ".join(FRONTS)),
        (s.client_header_timeout >= 1, "client_header_timeout", "1 second or more"),
        (s.client_body_timeout >= 1, "client_body_timeout", "1 second or more"),
        (s.keepalive_timeout >= 0, "keepalive_timeout", "0 (no keep-alive) or more"),
        (s.max_connections >= 16, "max_connections", "16 or more"),
        (
            0 <= s.metrics_port <= 65535 and s.metrics_port != s.port,
            "metrics_port",
            "0 or a TCP port other than SERVEKIT_PORT",
        ),
        (
            s.grpc_port == 0
            or (
                s.grpc_port <= 65535
                and s.grpc_port > 0
                and s.grpc_port not in (s.port, s.metrics_port)
            ),
            "grpc_port",
            "0 (off) or a TCP port other than SERVEKIT_PORT and SERVEKIT_METRICS_PORT",
        ),
        (s.grpc_processes >= 1, "grpc_processes", "1 or more"),
        (s.processes >= 0, "processes", "0 (one per core) or more"),
        (s.threads >= 1, "threads", "1 or more"),
        (s.onnx_threads >= 0, "onnx_threads", "0 (automatic) or more"),
        (s.timeout >= 1, "timeout", "1 second or more"),
        (s.max_requests >= 0, "max_requests", "0 (never) or more"),
        (s.drain_seconds >= 0, "drain_seconds", "0 or more"),
        (s.grace_seconds >= 0, "grace_seconds", "0 (wait) or more"),
        (s.max_requests_jitter >= 0, "max_requests_jitter", "0 or more"),
        (s.max_body_bytes >= 1, "max_body_bytes", "1 byte or more"),
        (s.async_workers >= 0, "async_workers", "0 (none) or more"),
        (s.async_max_body_bytes >= 1, "async_max_body_bytes", "1 byte or more"),
        (s.async_max_result_bytes >= 1, "async_max_result_bytes", "1 byte or more"),
        (s.async_max_queued >= 1, "async_max_queued", "1 or more"),
        (s.async_queue_seconds >= 1, "async_queue_seconds", "1 second or more"),
        (s.async_retention_seconds >= 1, "async_retention_seconds", "1 second or more"),
        (s.async_timeout >= 1, "async_timeout", "1 second or more"),
        (s.async_max_attempts >= 1, "async_max_attempts", "1 or more"),
        (s.async_lease_seconds >= 1, "async_lease_seconds", "1 second or more"),
        (s.amqp_max_result_bytes >= 1, "amqp_max_result_bytes", "1 byte or more"),
        *amqp_checks(s.amqp_url, s.amqp_input_queue, s.amqp_output_queue),
        (s.log_format in LOG_FORMATS, "log_format", " or ".join(LOG_FORMATS)),
        (s.log_level in LOG_LEVELS, "log_level", ", ".join(LOG_LEVELS)),
    ]
    _check_capture_url(s.capture)
    checks += [
        (0.0 <= s.capture_sample <= 1.0, "capture_sample", "a number from 0 to 1"),
        (s.capture_queue >= 1, "capture_queue", "1 or more"),
        (s.capture_rotate_bytes >= 1024, "capture_rotate_bytes", "1024 bytes or more"),
        (s.capture_rotate_seconds >= 1, "capture_rotate_seconds", "1 second or more"),
        (0 <= s.batch_max_size <= 4096, "batch_max_size", "0 (off) to 4096"),
        (s.batch_max_wait_ms <= 10_000, "batch_max_wait_ms", "10000 ms or less"),
    ]
    for ok, name, expected in checks:
        if not ok:
            raise ConfigError(f"{env_name(name)} must be {expected}, got {getattr(s, name)!r}")


CAPTURE_SCHEMES = ("file", "http", "https", "redis", "rediss")


def _check_capture_url(url: str) -> None:
    """``SERVEKIT_CAPTURE``: empty, or a URL of a sink servekit has (never echoed: it may
    hold a password)."""
    if not url:
        return
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CAPTURE_SCHEMES:
        got = f"scheme {scheme!r}" if sep else "no scheme"
        raise ConfigError(
            f"{env_name('capture')} must be a file://, http(s):// or redis:// URL, got {got}"
        )
    if scheme.lower() == "file" and not rest.startswith("/"):
        raise ConfigError(
            f"{env_name('capture')} must name an absolute folder: file:///path/to/dir"
        )
